#!/usr/bin/env bash
# coder-runtime.exe ssh, end to end under Wine: a Linux sshd on a loopback port, reached through
# a ProxyCommand whose program lives under a folder with spaces ("stdio relay.exe", standing in
# for `coder ssh --stdio`), quoted the way `coder config-ssh` writes it, in the Windows user's own
# %USERPROFILE%\.ssh\config, with the identity and known_hosts there too.
# Usage (from scripts/windows, with WINEPREFIX set): tests/windows/ssh_end_to_end.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
exe=$build/coder-runtime.exe
helpers_unix="$build/tests/Program Files Test"
helpers="$(winepath -w "$helpers_unix" 2>/dev/null)"
scratch=$build/ssh-end-to-end
rm -rf "$scratch"
mkdir -p "$scratch"
status=0
check() {  # check <what> <wanted exit status> <pattern> <command...>: status and output must match
  local what=$1 wanted=$2 pattern=$3 output got=0
  shift 3
  output=$(timeout 60 "$@" 2>&1) || got=$?
  if [ "$got" = "$wanted" ] && grep -qE "$pattern" <<<"$output"; then
    echo "windows: ok: $what"
  else
    echo "windows: FAILED: $what (wanted status $wanted and /$pattern/), got status $got:"
    echo "$output" | sed 's/^/  /'
    status=1
  fi
}

# --- sshd behind a loopback listener that hands each connection to `sshd -i` ----------------
ssh-keygen -q -t ed25519 -N '' -f "$scratch/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$scratch/id_ed25519"
cp "$scratch/id_ed25519.pub" "$scratch/authorized_keys"
cat >"$scratch/sshd_config" <<CONFIG
HostKey $scratch/host_ed25519
PidFile none
AuthorizedKeysFile $scratch/authorized_keys
UsePAM no
StrictModes no
LogLevel ERROR
CONFIG
mkdir -p /run/sshd 2>/dev/null || true
exec {listener}< <(exec python3 "$(dirname "$0")/sshd_listener.py" "$scratch/sshd_config")
listener_pid=$!
trap 'kill $listener_pid 2>/dev/null || true' EXIT
if ! read -r -t 30 port <&"$listener"; then
  echo "windows: FAILED: the sshd listener did not start"; exit 1
fi

# --- The Windows user's own ssh files: %USERPROFILE%\.ssh ------------------------------------
profile_unix=$(winepath -u "$(wine cmd /c 'echo %USERPROFILE%' 2>/dev/null | tr -d '\r')" 2>/dev/null)
mkdir -p "$profile_unix/.ssh"
cp "$scratch/id_ed25519" "$profile_unix/.ssh/id_ed25519"
rm -f "$profile_unix/.ssh/known_hosts"
printf '%s\r\n' \
  "Host linux-sshd" \
  "  HostName 127.0.0.1" \
  "  User $(id -un)" \
  "  ProxyCommand \"$helpers\\stdio relay.exe\" \"%h\" \"$port\"" \
  "  IdentityFile ~/.ssh/id_ed25519" \
  "  StrictHostKeyChecking accept-new" \
  "  BatchMode yes" >"$profile_unix/.ssh/config"

check "ssh: the remote command's output and exit status (first contact: host key recorded)" 7 \
  '^hello from Linux$' wine "$exe" ssh linux-sshd 'echo hello from $(uname -s); exit 7'
if grep -q "$(cut -d' ' -f2 "$scratch/host_ed25519.pub")" "$profile_unix/.ssh/known_hosts" 2>/dev/null; then
  echo "windows: ok: the host key went into %USERPROFILE%\\.ssh\\known_hosts"
else
  echo "windows: FAILED: no host key in $profile_unix/.ssh/known_hosts"; status=1
fi
check "ssh: stdin relayed to the remote command, the known host key accepted" 0 \
  '^line one from Windows stdin$' wine "$exe" ssh -o StrictHostKeyChecking=yes linux-sshd cat \
  <<<"line one from Windows stdin"
# The recorded line with another key in it: the server's key no longer matches.
awk -v other="$(cut -d' ' -f2 "$scratch/id_ed25519.pub")" '{ $3 = other; print }' \
  "$profile_unix/.ssh/known_hosts" >"$profile_unix/.ssh/changed_known_hosts"
check "ssh: a changed host key is refused with 255 and said so" 255 'REMOTE HOST IDENTIFICATION HAS CHANGED' \
  wine "$exe" ssh -o "UserKnownHostsFile ~/.ssh/changed_known_hosts" linux-sshd true
check "ssh: a proxy that exits 1 before the banner: its status and stderr, exit 255" 255 \
  'exited with status 1; stderr: error: workspace "linux-sshd" not found' \
  wine "$exe" ssh -o "ProxyCommand \"$helpers\\test child.exe\" \"fail\" \"1\" \"error: workspace \\\"%n\\\" not found\"" linux-sshd true
exit $status
