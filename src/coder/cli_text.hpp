#pragma once
// What the Coder CLI prints is meant for a terminal: colour codes, several lines, sometimes a lot
// of it. These turn it into text that fits into an error's evidence or a progress event.

#include <string>
#include <string_view>

namespace cr::coder {

// The text without ANSI escape sequences (CSI "ESC [ ... letter" and OSC "ESC ] ... BEL/ST"),
// so a coloured warning still matches what we look for.
std::string strip_ansi(std::string_view text);

// The last max_bytes of the text (the end of a CLI's output says why it failed), marked as cut.
std::string tail(std::string_view text, std::size_t max_bytes = 2048);

}  // namespace cr::coder
