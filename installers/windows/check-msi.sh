#!/usr/bin/env bash
# check-msi.sh: the CI check of the Vigil Agent MSI. Reads the package's tables with msiinfo
# (msitools) and asserts what vigil-agent.wxs promises: the VigilAgent service (own process,
# automatic start, LocalSystem, its --config), its start/stop/delete controls, restart on
# failure, the stable UpgradeCode and this version's ProductVersion and ProductCode, major
# upgrade rows, the public properties reaching the server side, the hidden token, the enroll
# and retire custom actions with their conditions and places in InstallExecuteSequence, and
# that nothing under C:\ProgramData (CommonAppDataFolder) belongs to the package.
# Prints each relevant row and one line per check; exits 1 naming every check that failed.
#
# Usage: check-msi.sh FILE.msi [--version X.Y.Z]
#   --version  the expected ProductVersion; default: CMakeLists.txt's project version
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
wxi="$here/vigil-agent.wxi"

usage() { echo "usage: check-msi.sh FILE.msi [--version X.Y.Z]" >&2; exit 2; }
die() { echo "check-msi: $*" >&2; exit 1; }

msi="" version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || usage; version=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "check-msi: unknown option: $1" >&2; usage ;;
    *) [ -z "$msi" ] || usage; msi=$1; shift ;;
  esac
done
[ -n "$msi" ] || usage
[ -f "$msi" ] || die "no such file: $msi"
command -v msiinfo >/dev/null || die "msiinfo is not installed (Debian: apt-get install msitools)"
if [ -z "$version" ]; then
  version=$(sed -n 's/^project(vigil VERSION \([0-9][0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
  [ -n "$version" ] || die "no project version in $repo/CMakeLists.txt; pass --version"
fi
upgrade_code="{$(sed -n 's/^[[:space:]]*<?define UpgradeCode = "\([^"]*\)" ?>.*/\1/p' "$wxi")}"
[ "$upgrade_code" != "{}" ] || die "no UpgradeCode in $wxi"
public_properties=$(sed -n 's/^[[:space:]]*<?define PublicProperties = "\([^"]*\)" ?>.*/\1/p' "$wxi")
[ -n "$public_properties" ] || die "no PublicProperties in $wxi"
product_code=$(bash "$here/build-msi.sh" --print-product-code --version "$version")

tables=$(mktemp -d)
trap 'rm -rf "$tables"' EXIT
msiinfo tables "$msi" >"$tables/.list" 2>/dev/null || die "$msi is not a readable MSI database"
# Every table the checks read, exported once: tab-separated rows without the 3 header lines.
for t in Property CustomAction InstallExecuteSequence ServiceInstall ServiceControl Upgrade \
         LaunchCondition Component File Directory CreateFolder RemoveFile Registry \
         MsiServiceConfigFailureActions MsiServiceConfig; do
  if grep -qx "$t" "$tables/.list"; then
    msiinfo export "$msi" "$t" | tr -d '\r' | tail -n +4 >"$tables/$t"
  else
    : >"$tables/$t"
  fi
done

# shellcheck source=installers/check-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../check-lib.sh"
# field TABLE KEY N: column N of the row whose first column is KEY.
field() { awk -F'\t' -v k="$2" -v n="$3" '$1 == k { print $n; exit }' "$tables/$1"; }
prop() { field Property "$1" 2; }
seq_of() { field InstallExecuteSequence "$1" 3; }
cond_of() { field InstallExecuteSequence "$1" 2; }
show() { sed "s/^/      $1: /" "$tables/$1" | tr '\t' '|'; }
contains() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }
bits() { [ -n "$1" ] && (( ($1 & $2) == $2 )); }
between() { [ -n "$1" ] && [ -n "$2" ] && [ -n "$3" ] && (($2 < $1 && $1 < $3)); }

echo "check-msi: $msi (expecting version $version, UpgradeCode $upgrade_code, ProductCode $product_code)"

# --- identity and upgrades ------------------------------------------------------------------
template=$(msiinfo suminfo "$msi" | sed -n 's/^Template: //p' | tr -d '\r')
echo "      summary Template: $template"
check "64-bit package (summary Template x64)" contains "$template" "x64"
for p in ProductName ProductVersion ProductCode UpgradeCode ALLUSERS SecureCustomProperties \
         MsiHiddenProperties; do
  echo "      Property: $p = $(prop "$p")"
done
check "UpgradeCode is the stable $upgrade_code (vigil-agent.wxi; must never change)" \
  test "$(prop UpgradeCode)" = "$upgrade_code"
check "ProductVersion is $version" test "$(prop ProductVersion)" = "$version"
check "ProductCode is $product_code (derived from UpgradeCode and version)" \
  test "$(prop ProductCode)" = "$product_code"
check "per-machine install (ALLUSERS=1)" test "$(prop ALLUSERS)" = "1"
for p in ${public_properties//;/ }; do
  check "$p is in SecureCustomProperties (passed to the server side)" \
    contains ";$(prop SecureCustomProperties);" ";$p;"
done
check "ENROLL_TOKEN is in MsiHiddenProperties (not logged)" \
  contains ";$(prop MsiHiddenProperties);" ";ENROLL_TOKEN;"

show Upgrade
upgrade_row=$(awk -F'\t' -v u="$upgrade_code" '$1 == u && $7 == "WIX_UPGRADE_DETECTED"' "$tables/Upgrade")
downgrade_row=$(awk -F'\t' -v u="$upgrade_code" '$1 == u && $7 == "WIX_DOWNGRADE_DETECTED"' "$tables/Upgrade")
check "Upgrade row: older versions (below $version) are found and removed" \
  test "$(cut -f2,3 <<<"$upgrade_row")" = "$(printf '\t%s' "$version")"
check "Upgrade row: a newer version is only detected (downgrade)" \
  bits "$(cut -f5 <<<"$downgrade_row")" 2
check "launch condition refuses a downgrade" grep -q "^NOT WIX_DOWNGRADE_DETECTED" "$tables/LaunchCondition"
check "RemoveExistingProducts runs after InstallValidate, before InstallInitialize" \
  between "$(seq_of RemoveExistingProducts)" "$(seq_of InstallValidate)" "$(seq_of InstallInitialize)"

# --- files and the service ------------------------------------------------------------------
show File
show Component
show Directory
exe_component=$(awk -F'\t' '$3 == "vigil-agent.exe" || $3 ~ /\|vigil-agent\.exe$/ { print $2; exit }' "$tables/File")
exe_dir=$(field Component "$exe_component" 3)
check "vigil-agent.exe is installed" test -n "$exe_component"
check "into [ProgramFiles64Folder]Vigil\\" \
  test "$(field Directory "$exe_dir" 2)|$(field Directory "$exe_dir" 3)" = "ProgramFiles64Folder|Vigil"
check "its component is 64-bit" bits "$(field Component "$exe_component" 4)" 256

show ServiceInstall
svc=$(awk -F'\t' '$2 == "VigilAgent"' "$tables/ServiceInstall")
svc_field() { cut -f"$1" <<<"$svc"; }
check "ServiceInstall: service VigilAgent" test -n "$svc"
check "ServiceInstall: own process (ServiceType 16)" test "$(svc_field 4)" = "16"
check "ServiceInstall: automatic start (StartType 2)" test "$(svc_field 5)" = "2"
check "ServiceInstall: runs as LocalSystem" test "$(svc_field 9)" = "LocalSystem"
check "ServiceInstall: --config \"[CommonAppDataFolder]Vigil\\agent.conf\"" \
  test "$(svc_field 11)" = '--config "[CommonAppDataFolder]Vigil\agent.conf"'
check "ServiceInstall: has a description" test -n "$(svc_field 13)"
check "ServiceInstall: in the component of vigil-agent.exe" test "$(svc_field 12)" = "$exe_component"

show ServiceControl
ctl=$(awk -F'\t' '$2 == "VigilAgent"' "$tables/ServiceControl")
# msidbServiceControlEvent: 1 start on install, 2 stop on install, 0x20 stop on uninstall,
# 0x80 delete on uninstall.
check "ServiceControl: VigilAgent started on install" bits "$(cut -f3 <<<"$ctl")" 1
check "ServiceControl: stopped on install/repair and on uninstall" bits "$(cut -f3 <<<"$ctl")" $((2 | 0x20))
check "ServiceControl: deleted on uninstall" bits "$(cut -f3 <<<"$ctl")" $((0x80))
check "ServiceControl: the install waits for it" test "$(cut -f5 <<<"$ctl")" = "1"

# --- custom actions ---------------------------------------------------------------------------
show CustomAction
show InstallExecuteSequence
ca_type() { field CustomAction "$1" 2; }
ca_source() { field CustomAction "$1" 3; }
ca_target() { field CustomAction "$1" 4; }
# msidbCustomActionType: 0x400 in-script (deferred), 0x800 no impersonation, 0x40 continue on
# error (Return="ignore"), 0x2000 hide target.
deferred_system() { bits "$(ca_type "$1")" $((0x400 | 0x800)); }
checked() { ! bits "$(ca_type "$1")" $((0x40)); }
set_by() {  # set_by PROPERTY VALUE: an immediate SetProperty action before InstallInitialize
  local a
  # (through the environment: awk -v would turn the \a of Vigil\agent.conf into a BEL)
  a=$(P="$1" V="$2" awk -F'\t' '$3 == ENVIRON["P"] && $4 == ENVIRON["V"] && ($2 % 64) == 51 { print $1; exit }' \
      "$tables/CustomAction")
  [ -n "$a" ] && [ -n "$(seq_of "$a")" ] && (($(seq_of "$a") < $(seq_of InstallInitialize)))
}
check "VA_CMD is [System64Folder]cmd.exe" set_by VA_CMD '[System64Folder]cmd.exe'
check "VA_EXE is [INSTALLDIR]vigil-agent.exe" set_by VA_EXE '[INSTALLDIR]vigil-agent.exe'
check "VA_DIR is [CommonAppDataFolder]Vigil" set_by VA_DIR '[CommonAppDataFolder]Vigil'
check "VA_CONF is [CommonAppDataFolder]Vigil\\agent.conf" set_by VA_CONF '[CommonAppDataFolder]Vigil\agent.conf'
check "VA_LOG is [CommonAppDataFolder]Vigil\\installer.log" set_by VA_LOG '[CommonAppDataFolder]Vigil\installer.log'

# Predicates over the custom actions (named, so every check below is one plain call).
runs_checked() { deferred_system "$1" && checked "$1"; }
runs_ignored() { deferred_system "$1" && ! checked "$1"; }
before_start() {  # after InstallServices (so after InstallFiles), before StartServices
  between "$(seq_of "$1")" "$(seq_of InstallServices)" "$(seq_of StartServices)" &&
    (($(seq_of InstallFiles) < $(seq_of "$1")))
}
not_on_uninstall() { contains "$(cond_of "$1")" 'NOT REMOVE~="ALL"'; }
while_stopped() {  # the service is stopped, the files are still there
  between "$(seq_of "$1")" "$(seq_of StopServices)" "$(seq_of DeleteServices)" &&
    (($(seq_of "$1") < $(seq_of RemoveFiles)))
}
full_uninstall_only() { contains "$(cond_of "$1")" 'REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE'; }
target_has() { contains "$(ca_target "$1")" "$2"; }
secure_dir_ok() {
  target_has SecureDataDir '/setowner *S-1-5-32-544' &&
    target_has SecureDataDir '/inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F'
}
retire_plain() { target_has RetireAgent '"[VA_EXE]" retire ' && ! target_has RetireAgent '--purge'; }
retire_split_by_purge() {
  contains "$(cond_of RetireAgent)" 'PURGE_STATE<>"1"' &&
    contains "$(cond_of RetireAgentPurge)" 'PURGE_STATE="1"'
}

# Restart on failure: Windows Installer's own tables (build-msi.sh writes them after wixl),
# applied by MsiConfigureServices between InstallServices and StartServices. No sc.exe
# custom action: the install must not depend on a tool's command set (wine's sc.exe has no
# failureflag).
show MsiServiceConfigFailureActions
show MsiServiceConfig
failure_row=$(awk -F'\t' '$2 == "VigilAgent"' "$tables/MsiServiceConfigFailureActions")
flag_row=$(awk -F'\t' '$2 == "VigilAgent"' "$tables/MsiServiceConfig")
# msidbServiceConfigEvent: 1 install, 2 uninstall, 4 reinstall.
check "restart on failure: VigilAgent restarts after 10 s, 10 s, 60 s; count reset after 86400 s" \
  test "$(cut -f3,4,7,8,9 <<<"$failure_row")" = \
  "$(printf '5\t86400\t1[~]1[~]1\t10000[~]10000[~]60000\t%s' "$exe_component")"
check "restart on failure: also after a non-zero exit (failure-actions flag, ConfigType 4 = 1)" \
  test "$(cut -f3,4,5,6 <<<"$flag_row")" = "$(printf '5\t4\t1\t%s' "$exe_component")"
check "MsiConfigureServices runs after InstallServices, before StartServices" \
  between "$(seq_of MsiConfigureServices)" "$(seq_of InstallServices)" "$(seq_of StartServices)"
check "no sc.exe custom action (the install does not depend on sc.exe's commands)" \
  test -z "$(awk -F'\t' '$4 ~ /sc\.exe/' "$tables/CustomAction")"

# The configuration directory and file, enrollment: in this order, before the service starts.
check "SecureDataDir: C:\\ProgramData\\Vigil owned by Administrators, for SYSTEM and Administrators only" \
  secure_dir_ok
check "CreateConfigFile: agent.conf made when missing (the service's --config must exist)" \
  target_has CreateConfigFile 'if not exist "[VA_CONF]" >"[VA_CONF]" echo #'
check "WriteCaFile: ca_file = [CA_FILE] appended to agent.conf" \
  target_has WriteCaFile '>>"[VA_CONF]" echo ca_file = [CA_FILE]'
check "WriteCaFile: only when CA_FILE is set" contains "$(cond_of WriteCaFile)" "CA_FILE AND"
check "EnrollAgent: runs vigil-agent enroll --server \"[SERVER_URL]\" --token \"[ENROLL_TOKEN]\"" \
  target_has EnrollAgent '"[VA_EXE]" enroll --server "[SERVER_URL]" --token "[ENROLL_TOKEN]"'
check "EnrollAgent: on exit 75 writes server_url and enroll_token to agent.conf and succeeds" \
  target_has EnrollAgent 'if !errorlevel! equ 75 (>>"[VA_CONF]" echo server_url=[SERVER_URL]& >>"[VA_CONF]" echo enroll_token=[ENROLL_TOKEN]& exit 0) else exit !errorlevel!'
check "EnrollAgent: its command line (with the token) is hidden from the log (HideTarget)" \
  bits "$(ca_type EnrollAgent)" $((0x2000))
check "EnrollAgent: when SERVER_URL is set, on a first install, an upgrade or a repair" \
  test "$(cond_of EnrollAgent)" = 'SERVER_URL AND (NOT Installed OR REINSTALL) AND NOT REMOVE~="ALL"'
order="$(seq_of SecureDataDir) $(seq_of CreateConfigFile) $(seq_of WriteCaFile) $(seq_of EnrollAgent)"
check "order: SecureDataDir, CreateConfigFile, WriteCaFile, EnrollAgent ($order)" \
  test "$order" = "$(tr ' ' '\n' <<<"$order" | sort -n | tr '\n' ' ' | sed 's/ $//')"
for a in SecureDataDir CreateConfigFile WriteCaFile EnrollAgent; do
  check "$a: deferred, as LocalSystem; its failure fails the install" runs_checked "$a"
  check "$a: after InstallServices, before StartServices" before_start "$a"
  check "$a: not on uninstall" not_on_uninstall "$a"
done

# Retirement.
check "RetireAgent: runs vigil-agent retire (without --purge)" retire_plain
check "RetireAgentPurge: runs vigil-agent retire --purge" target_has RetireAgentPurge '"[VA_EXE]" retire --purge '
check "RetireAgent without PURGE_STATE=1, RetireAgentPurge with it" retire_split_by_purge
for a in RetireAgent RetireAgentPurge; do
  check "$a: deferred, as LocalSystem; an unreachable collector does not block the uninstall" runs_ignored "$a"
  check "$a: only on a full uninstall, not when an upgrade removes the old version" full_uninstall_only "$a"
  check "$a: after StopServices (the service is stopped), before DeleteServices and RemoveFiles" while_stopped "$a"
done

# --- limits, and what the package must not own ---------------------------------------------------
long=$(awk -F'\t' 'length($4) > 255 { print $1 }' "$tables/CustomAction"; awk -F'\t' 'length($1) > 255 { print "LaunchCondition " substr($1, 1, 30) }' "$tables/LaunchCondition")
check "custom action command lines and launch conditions fit in 255 characters${long:+ (too long: $long)}" test -z "$long"
owned=$(grep -l "CommonAppDataFolder" "$tables/Directory" "$tables/CreateFolder" "$tables/RemoveFile" \
        "$tables/Component" "$tables/File" "$tables/Registry" 2>/dev/null | xargs -r -n1 basename || true)
check "nothing under C:\\ProgramData belongs to the package${owned:+ (found in: $owned)}" test -z "$owned"

checks_summary check-msi
