#pragma once
// Who runs us and with what environment, as UTF-8 on POSIX and Windows alike: what ssh_config's
// %u token and SendEnv read.

#include <string>
#include <utility>
#include <vector>

namespace cr::runtime {

// POSIX: the password database's name for our uid, else $USER. Windows: GetUserNameW, else
// %USERNAME%. Empty when nothing says.
std::string local_user_name();

// Every NAME=value of the process environment, in the environment's order. Windows' hidden
// per-drive entries ("=C:=C:\...") are not variables and are left out.
std::vector<std::pair<std::string, std::string>> environment_variables();

}  // namespace cr::runtime
