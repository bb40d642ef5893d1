// fmt's out-of-line functions, compiled into the executable (Debian ships fmt as a shared library
// only). With them here and the C++ runtime linked statically, starting `coder-runtime` maps and
// binds no shared C++ library: the loader's symbol binding and the pages it dirties were about a
// quarter of what a warm `exec` process costs. CMakeLists.txt adds this file only for fmt 9, whose
// format-inl.h defines these functions out of line when FMT_HEADER_ONLY is not set.

#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
// The templates fmt's own format.cc instantiates that our code reaches.
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
}  // namespace detail
FMT_END_NAMESPACE
