#!/usr/bin/env bash
# The consumer test: coder-runtime as a host project gets it. Installs the build into a scratch
# prefix; builds examples/ against that prefix alone with find_package; compiles every installed
# header, and links, with nothing but pkg-config's flags; then runs both examples: run_command on an
# ssh_config host whose ProxyCommand is the Go x/crypto/ssh server, workspace_session on a
# workspace of the stand-in Coder CLI (whose `coder ssh --stdio` runs the same server).
#
#   consumer_test.sh BUILD_DIR SOURCE_DIR GO_SSHD CODER_STANDIN
set -euo pipefail
build=$1 source=$2 go_sshd=$3 standin=$4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
if grep -rl -e "$build" -e "$source" "$prefix/lib" --include='*.cmake' --include='*.pc'; then
  echo "the package names the build or source tree (above)" >&2
  exit 1
fi
test ! -e "$prefix/include/coder_runtime/ssh/crypto" || { echo "crypto/ headers were installed" >&2; exit 1; }
test ! -e "$prefix/include/coder_runtime/ssh/wire.hpp" || { echo "wire.hpp was installed" >&2; exit 1; }
test -e "$prefix/include/coder_runtime/ssh/sftp/client.hpp" || { echo "ssh/sftp/client.hpp was not installed" >&2; exit 1; }
test ! -e "$prefix/include/coder_runtime/ssh/sftp/messages.hpp" || { echo "sftp/messages.hpp was installed" >&2; exit 1; }

# A host project: the CMake package, nothing of the source tree. No optimisation: this checks the
# package, not the code.
cmake -S "$source/examples" -B "$scratch/examples" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build "$scratch/examples" --parallel 2 >/dev/null

# pkg-config: every installed header in one program, compiled and linked with its flags alone.
{
  (cd "$prefix/include" && find coder_runtime -name '*.hpp' ! -name windows_handle.hpp | sort | sed 's/.*/#include <&>/')
  echo 'int main() { return cr::coder::shell_quote("x") == "'"'"'x'"'"'" ? 0 : 1; }'
} > "$scratch/every_header.cpp"
PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name coder-runtime.pc)")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
# shellcheck disable=SC2046
c++ $(pkg-config --cflags coder-runtime) "$scratch/every_header.cpp" -o "$scratch/every_header" $(pkg-config --libs coder-runtime)
"$scratch/every_header"

# run_command: a host of an ssh_config file, reached through its ProxyCommand.
cat > "$scratch/ssh_config" <<CONFIG
Host demo
  ProxyCommand $go_sshd
  User tester
  BatchMode yes
  IdentityAgent none
  IdentitiesOnly yes
  StrictHostKeyChecking accept-new
  UserKnownHostsFile $scratch/known_hosts
CONFIG
status=0
output=$(timeout 60 "$scratch/examples/run_command" -F "$scratch/ssh_config" demo 'echo hello; exit 3') || status=$?
[ "$output" = hello ] || { echo "run_command printed: $output" >&2; exit 1; }
[ "$status" = 3 ] || { echo "run_command exited $status, not the command's 3" >&2; exit 1; }
grep -q '^demo ssh-rsa ' "$scratch/known_hosts" || { echo "no host key was recorded" >&2; exit 1; }

# workspace_session: two commands on one connection to a workspace of the stand-in CLI.
mkdir -p "$scratch/bin" "$scratch/state"
ln -s "$standin" "$scratch/bin/coder"
printf '{"workspaces": [{"name": "ws", "owner": "tester"}], "username": "tester", "go_sshd": "%s"}\n' "$go_sshd" \
  > "$scratch/state/scenario.json"
status=0
output=$(PATH=$scratch/bin:$PATH CODER_STANDIN_STATE=$scratch/state XDG_CACHE_HOME=$scratch/cache \
  timeout 60 "$scratch/examples/workspace_session" ws 'echo one' 'echo two; exit 4' 2>"$scratch/session.err") || status=$?
[ "$output" = $'one\ntwo' ] || { echo "workspace_session printed: $output" >&2; cat "$scratch/session.err" >&2; exit 1; }
[ "$status" = 4 ] || { echo "workspace_session exited $status, not the last command's 4" >&2; cat "$scratch/session.err" >&2; exit 1; }
[ "$(grep -c -- '--stdio' "$scratch/state/calls.log")" = 1 ] || { echo "not one coder ssh --stdio:" >&2; cat "$scratch/state/calls.log" >&2; exit 1; }
echo "consumer: ok"
