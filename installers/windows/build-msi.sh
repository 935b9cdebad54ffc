#!/usr/bin/env bash
# build-msi.sh: builds the Vigil Agent MSI for Windows x64 from vigil-agent.wxs with wixl
# (msitools 0.101, Debian 12: apt-get install wixl msitools libxml2-utils).
#
# Usage:
#   build-msi.sh --agent-exe PATH [--version X.Y.Z] --out FILE.msi
#   build-msi.sh --print-product-code [--version X.Y.Z]
#
#   --agent-exe PATH     the vigil-agent.exe to install (the release build comes from MSVC and
#                        vcpkg; CI passes a stand-in, see scripts/check-installers.sh)
#   --version X.Y.Z      product version; default: project(vigil VERSION ...) in CMakeLists.txt.
#                        Windows Installer compares only these three fields (X, Y <= 255,
#                        Z <= 65535), so every release needs a new X.Y.Z
#   --out FILE.msi       where to write the package (its directory must exist)
#   --print-product-code print this version's ProductCode and exit
#
# The ProductCode is derived from the UpgradeCode and the version (a name-based UUID,
# RFC 4122 version 5), so each version has its own (a major upgrade needs that), a rebuild of
# the same version has the same one, and the winget manifest can name it before the release
# build (tests/packaging/check_versions.sh compares them).
#
# After wixl, three fixes are made with msibuild (same msitools package), because wixl 0.101
# does not write them:
#   - the HideTarget bit (msidbCustomActionTypeHideTarget, 0x2000) of every CustomAction
#     marked HideTarget="yes" in the .wxs (EnrollAgent: its command line holds the token);
#   - the public properties of vigil-agent.wxi's PublicProperties, added to
#     SecureCustomProperties (WiX's Property/@Secure, which wixl lacks);
#   - the VigilAgent service's recovery settings (WiX's ServiceConfigFailureActions and
#     ServiceConfig, which wixl lacks): the MsiServiceConfigFailureActions and
#     MsiServiceConfig tables and the MsiConfigureServices action that applies them.
# check-msi.sh asserts the result.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
wxs="$here/vigil-agent.wxs"
wxi="$here/vigil-agent.wxi"

die() { echo "build-msi: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

agent_exe="" version="" out="" print_code=0
while [ $# -gt 0 ]; do
  case "$1" in
    --agent-exe) [ $# -ge 2 ] || usage; agent_exe=$2; shift 2 ;;
    --version) [ $# -ge 2 ] || usage; version=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --print-product-code) print_code=1; shift ;;
    -h|--help) usage ;;
    *) echo "build-msi: unknown argument: $1" >&2; usage ;;
  esac
done

if [ -z "$version" ]; then
  version=$(sed -n 's/^project(vigil VERSION \([0-9][0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
  [ -n "$version" ] || die "no 'project(vigil VERSION x.y.z' line in $repo/CMakeLists.txt; pass --version"
fi
[[ $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] ||
  die "version '$version' is not X.Y.Z (Windows Installer uses three numeric fields)"
if ((10#${BASH_REMATCH[1]} > 255 || 10#${BASH_REMATCH[2]} > 255 || 10#${BASH_REMATCH[3]} > 65535)); then
  die "version '$version' is out of range for Windows Installer (X, Y <= 255, Z <= 65535)"
fi

# wxi_define NAME: the value of <?define NAME = "value" ?> in vigil-agent.wxi.
wxi_define() {
  local v
  v=$(sed -n "s/^[[:space:]]*<?define $1 = \"\([^\"]*\)\" ?>.*/\1/p" "$wxi")
  [ -n "$v" ] || die "no <?define $1 = \"...\" ?> line in $wxi"
  printf '%s\n' "$v"
}

# sha1: the SHA-1 of stdin in hex (sha1sum from coreutils; shasum on macOS, where the
# packaging_versions test also runs this script).
sha1() { if command -v sha1sum >/dev/null; then sha1sum; else shasum -a 1; fi; }

# uuid5 NAMESPACE-GUID NAME: RFC 4122 name-based UUID (SHA-1), upper case, no braces.
uuid5() {
  local ns hex
  ns=$(printf '%s' "$1" | tr -d '{}-' | tr 'A-F' 'a-f')
  [[ $ns =~ ^[0-9a-f]{32}$ ]] || die "not a GUID: $1"
  hex=$({ printf '%b' "$(printf '%s' "$ns" | sed 's/../\\x&/g')"; printf '%s' "$2"; } |
        sha1 | cut -c1-32)
  # version 5 in the high nibble of byte 6; variant 10xx in the high bits of byte 8
  hex="${hex:0:12}5${hex:13:3}$(printf '%x' $(( (16#${hex:16:1} & 3) | 8 )))${hex:17:15}"
  printf '%s-%s-%s-%s-%s\n' "${hex:0:8}" "${hex:8:4}" "${hex:12:4}" "${hex:16:4}" "${hex:20:12}" |
    tr 'a-f' 'A-F'
}

upgrade_code=$(wxi_define UpgradeCode)
product_code=$(uuid5 "$upgrade_code" "vigil-agent/x64/$version")
if [ "$print_code" = 1 ]; then
  printf '{%s}\n' "$product_code"
  exit 0
fi

[ -n "$agent_exe" ] || { echo "build-msi: --agent-exe is required" >&2; usage; }
[ -n "$out" ] || { echo "build-msi: --out is required" >&2; usage; }
[ -f "$agent_exe" ] || die "agent executable not found: $agent_exe"
out_dir=$(dirname "$out")
[ -d "$out_dir" ] || die "output directory does not exist: $out_dir"
for tool in wixl msibuild msiinfo xmllint; do
  command -v "$tool" >/dev/null ||
    die "$tool is not installed (Debian: apt-get install wixl msitools libxml2-utils)"
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# wixl resolves File/@Source against the current directory (it refuses absolute paths), and
# the installed file is named by File/@Name, so the exe is staged under its installed name.
cp "$agent_exe" "$stage/vigil-agent.exe"
if ! (cd "$stage" && wixl -a x64 -D Version="$version" -D AgentExe=vigil-agent.exe \
        -D ProductCode="$product_code" -o "$stage/out.msi" "$wxs") >"$stage/wixl.log" 2>&1; then
  cat "$stage/wixl.log" >&2
  die "wixl failed on $wxs"
fi
# wixl reports attributes it does not know as GLib warnings and goes on: treat them as errors,
# so an attribute that silently does nothing cannot creep into the definition.
if grep -q . "$stage/wixl.log"; then
  cat "$stage/wixl.log" >&2
  die "wixl printed warnings (above) for $wxs"
fi

# export_table TABLE: the rows of TABLE, tab-separated, without the three header lines.
export_table() { msiinfo export "$stage/out.msi" "$1" | tr -d '\r' | tail -n +4; }

# HideTarget for the custom actions marked so in the .wxs.
hidden=$(xmllint --xpath '//*[local-name()="CustomAction"][@HideTarget="yes"]/@Id' "$wxs" 2>/dev/null |
         sed 's/ Id="\([^"]*\)"/\1\n/g' | sed '/^$/d' || true)
for action in $hidden; do
  type=$(export_table CustomAction | awk -F'\t' -v a="$action" '$1 == a { print $2 }')
  [ -n "$type" ] || die "custom action $action (HideTarget) is not in the built package"
  msibuild "$stage/out.msi" -q \
    "UPDATE \`CustomAction\` SET \`Type\` = $((type | 0x2000)) WHERE \`Action\` = '$action'" ||
    die "msibuild could not set HideTarget on $action"
done

# The public properties in SecureCustomProperties, after wixl's own (its upgrade properties).
secure=$(export_table Property | awk -F'\t' '$1 == "SecureCustomProperties" { print $2 }')
IFS=';' read -r -a public <<<"$(wxi_define PublicProperties)"
for p in "${public[@]}"; do
  case ";$secure;" in *";$p;"*) ;; *) secure="${secure:+$secure;}$p" ;; esac
done
msibuild "$stage/out.msi" -q \
  "UPDATE \`Property\` SET \`Value\` = '$secure' WHERE \`Property\` = 'SecureCustomProperties'" ||
  die "msibuild could not update SecureCustomProperties"

# Restart on failure, applied by Windows Installer itself (MsiConfigureServices, after
# InstallServices, before StartServices) on install and repair; the service's deletion removes
# them. Restart after 10 s, again after 10 s, then after 60 s (the last action repeats), the
# failure count reset after a day without failure. The failure-actions flag (ConfigType 4,
# SERVICE_CONFIG_FAILURE_ACTIONS_FLAG = 1): a stop with a non-zero exit code (the agent's fatal
# errors: 1, 2, 78) counts as a failure too, not only a crash. This matches the Linux unit's
# Restart=on-failure, except that Windows cannot exempt exit code 78 (the agent needs an
# admin), which is therefore retried every 60 s, one log line each time.
# Event 5: msidbServiceConfigEventInstall (1) | msidbServiceConfigEventReinstall (4).
# (No sc.exe custom action: wine's sc.exe has no failureflag command, and an installer that
# depends on a command-line tool's exit code fails where the tool differs.)
service_component=$(export_table ServiceInstall | awk -F'\t' '$2 == "VigilAgent" { print $12 }')
[ -n "$service_component" ] || die "no ServiceInstall row for VigilAgent in the built package"
msibuild "$stage/out.msi" -q "CREATE TABLE \`MsiServiceConfigFailureActions\` (\`MsiServiceConfigFailureActions\` CHAR(72) NOT NULL, \`Name\` CHAR(255) NOT NULL LOCALIZABLE, \`Event\` SHORT NOT NULL, \`ResetPeriod\` LONG, \`RebootMessage\` CHAR(255) LOCALIZABLE, \`Command\` CHAR(255) LOCALIZABLE, \`Actions\` CHAR(255), \`DelayActions\` CHAR(255), \`Component_\` CHAR(72) NOT NULL PRIMARY KEY \`MsiServiceConfigFailureActions\`)" ||
  die "msibuild could not create MsiServiceConfigFailureActions"
msibuild "$stage/out.msi" -q "INSERT INTO \`MsiServiceConfigFailureActions\` (\`MsiServiceConfigFailureActions\`, \`Name\`, \`Event\`, \`ResetPeriod\`, \`Actions\`, \`DelayActions\`, \`Component_\`) VALUES ('VigilAgentRecovery', 'VigilAgent', 5, 86400, '1[~]1[~]1', '10000[~]10000[~]60000', '$service_component')" ||
  die "msibuild could not write the service's failure actions"
msibuild "$stage/out.msi" -q "CREATE TABLE \`MsiServiceConfig\` (\`MsiServiceConfig\` CHAR(72) NOT NULL, \`Name\` CHAR(255) NOT NULL LOCALIZABLE, \`Event\` SHORT NOT NULL, \`ConfigType\` LONG NOT NULL, \`Argument\` CHAR(0) LOCALIZABLE, \`Component_\` CHAR(72) NOT NULL PRIMARY KEY \`MsiServiceConfig\`)" ||
  die "msibuild could not create MsiServiceConfig"
msibuild "$stage/out.msi" -q "INSERT INTO \`MsiServiceConfig\` (\`MsiServiceConfig\`, \`Name\`, \`Event\`, \`ConfigType\`, \`Argument\`, \`Component_\`) VALUES ('VigilAgentFailureFlag', 'VigilAgent', 5, 4, '1', '$service_component')" ||
  die "msibuild could not write the service's failure-actions flag"
msibuild "$stage/out.msi" -q "INSERT INTO \`InstallExecuteSequence\` (\`Action\`, \`Sequence\`) VALUES ('MsiConfigureServices', 5850)" ||
  die "msibuild could not schedule MsiConfigureServices"

mv "$stage/out.msi" "$out"
echo "build-msi: wrote $out (Vigil Agent $version x64, ProductCode {$product_code})"
