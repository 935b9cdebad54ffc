#!/usr/bin/env bash
# The agent's attack surface (docs/security.md): it opens no TCP port and runs no command
# it is sent. Fails, naming file and line, on any call in agent/ or common/ that starts a
# process or a program (system, popen, exec*, posix_spawn*, fork, CreateProcess,
# ShellExecute, WinExec) or that takes stream connections (listen, accept, SOCK_STREAM;
# the agent's only sockets are libcurl's outgoing ones and its UDP beacon and peer sockets).
# Usage: check_agent_surface.sh REPO_ROOT
set -u
root=${1:?repo root}
spawn='(^|[^A-Za-z0-9_.>])(system|popen|_popen|execl|execle|execlp|execv|execve|execvp|execvpe|fexecve|posix_spawn|posix_spawnp|fork|vfork|CreateProcessA?W?|CreateProcessAsUserW?|ShellExecuteA?W?|ShellExecuteExW?|WinExec)[[:space:]]*\('
serve='(^|[^A-Za-z0-9_.>])(listen|accept|accept4|WSAAccept|AcceptEx)[[:space:]]*\(|SOCK_STREAM'
status=0 checked=0
for dir in agent common; do
  [ -d "$root/$dir" ] || { echo "agent surface: $dir is missing"; status=1; continue; }
  while IFS= read -r -d '' f; do
    checked=$((checked + 1))
    # Comments do not count: drop // comments before matching.
    if hits=$(sed 's://.*$::' "$f" | grep -nE "$spawn|$serve"); then
      while IFS= read -r h; do echo "agent surface: ${f#$root/}:$h"; done <<<"$hits"
      status=1
    fi
  done < <(find "$root/$dir" -type f \( -name '*.h' -o -name '*.cc' -o -name '*.mm' \) -print0)
done
[ "$checked" -gt 0 ] || { echo "agent surface: no sources found"; exit 1; }
[ $status = 0 ] && echo "agent surface: $checked files in agent/ and common/ start no process and accept no connection"
exit $status
