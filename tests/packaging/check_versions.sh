#!/usr/bin/env bash
# check_versions.sh: fails, naming the file, when a packaging file names a version other than
# the project's, `project(vigil VERSION x.y.z` in CMakeLists.txt. Checked:
#   packaging/winget/*.yaml           PackageVersion; the version in InstallerUrl (tag and file
#                                     name); ProductCode (this version's, as build-msi.sh
#                                     derives it) and UpgradeCode (vigil-agent.wxi's)
#   packaging/chocolatey/             the nuspec's <version>; the MSI URL in chocolateyinstall.ps1;
#                                     the UpgradeCode in chocolateyuninstall.ps1
#   packaging/homebrew/vigil-agent.rb the tag in url
#   vcpkg.json                        "version"
#   packaging/debian/changelog        the top entry's upstream version, if the file exists
#   packaging/rpm/*.spec[.in]         Version: (unless a template placeholder such as @VERSION@)
#                                     and the top %changelog entry, if any exist
# Prints each file with the version it found. The release sets the hashes (InstallerSha256,
# checksum64, sha256); this test does not look at them.
# Usage: check_versions.sh REPO_ROOT
set -euo pipefail

root=${1:?usage: check_versions.sh REPO_ROOT}
cd "$root"

failed=()
# expect FILE WHAT FOUND WANTED: one line, ok or FAIL.
expect() {
  if [ "$3" = "$4" ]; then
    echo "ok    $1: $3 ($2)"
  else
    echo "FAIL  $1: ${3:-nothing} found, $4 expected ($2)"
    failed+=("$1 ($2)")
  fi
}
# first FILE SED-SCRIPT: the first line sed -n prints for the script.
first() { sed -n "$2" "$1" | head -n 1; }
# need FILE: FILE exists, else a failure.
need() {
  [ -f "$1" ] && return 0
  echo "FAIL  $1: missing"
  failed+=("$1 (missing)")
  return 1
}

version=$(first CMakeLists.txt 's/^project(vigil VERSION \([0-9][0-9.]*\).*/\1/p')
[ -n "$version" ] || { echo "packaging_versions: no 'project(vigil VERSION x.y.z' in CMakeLists.txt"; exit 1; }
echo "packaging_versions: CMakeLists.txt says $version"

wxi=installers/windows/vigil-agent.wxi
upgrade_code="{$(first "$wxi" 's/^[[:space:]]*<?define UpgradeCode = "\([^"]*\)" ?>.*/\1/p')}"
product_code=$(bash installers/windows/build-msi.sh --print-product-code --version "$version")
msi_url="https://github.com/vigil-presence/vigil/releases/download/v$version/vigil-agent-$version-x64.msi"
# url_versions URL: "<tag version> <file version>" of a release MSI URL.
url_versions() {
  sed -n 's#.*/releases/download/v\([^/]*\)/vigil-agent-\(.*\)-x64\.msi.*#\1 \2#p' <<<"$1"
}

# winget
winget_files=(packaging/winget/*.yaml)
[ -f "${winget_files[0]}" ] || need packaging/winget/Vigil.VigilAgent.yaml || true
for f in "${winget_files[@]}"; do
  [ -f "$f" ] || continue
  expect "$f" PackageVersion \
    "$(first "$f" "s/^PackageVersion:[[:space:]]*['\"]\{0,1\}\([^'\"[:space:]]*\).*/\1/p")" "$version"
done
f=packaging/winget/Vigil.VigilAgent.installer.yaml
if need "$f"; then
  url=$(first "$f" 's/^[[:space:]]*InstallerUrl:[[:space:]]*//p')
  expect "$f" "InstallerUrl tag and file name" "$(url_versions "$url")" "$version $version"
  expect "$f" "InstallerUrl" "$url" "$msi_url"
  codes=$(sed -n "s/^[[:space:]]*ProductCode:[[:space:]]*['\"]\{0,1\}\([^'\"]*\).*/\1/p" "$f" | sort -u)
  expect "$f" "ProductCode of $version (build-msi.sh --print-product-code)" "$codes" "$product_code"
  expect "$f" "UpgradeCode ($wxi)" \
    "$(first "$f" "s/^[[:space:]]*UpgradeCode:[[:space:]]*['\"]\{0,1\}\([^'\"]*\).*/\1/p")" "$upgrade_code"
fi

# Chocolatey
f=packaging/chocolatey/vigil-agent.nuspec
! need "$f" || expect "$f" "<version>" "$(first "$f" 's/.*<version>\([^<]*\)<\/version>.*/\1/p')" "$version"
f=packaging/chocolatey/tools/chocolateyinstall.ps1
if need "$f"; then
  url=$(first "$f" "s/^\$url64[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p")
  expect "$f" "MSI URL tag and file name" "$(url_versions "$url")" "$version $version"
  expect "$f" "MSI URL" "$url" "$msi_url"
fi
f=packaging/chocolatey/tools/chocolateyuninstall.ps1
! need "$f" || expect "$f" "UpgradeCode ($wxi)" \
  "$(first "$f" "s/^\$upgradeCode[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p")" "$upgrade_code"

# Homebrew
f=packaging/homebrew/vigil-agent.rb
! need "$f" || expect "$f" "url tag" \
  "$(first "$f" 's#^[[:space:]]*url "https://github.com/vigil-presence/vigil/archive/refs/tags/v\([^"]*\)\.tar\.gz".*#\1#p')" \
  "$version"

# vcpkg
f=vcpkg.json
! need "$f" || expect "$f" '"version"' \
  "$(first "$f" 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')" "$version"

# Debian and RPM packages (made by the Linux packaging; checked when present). Their versions
# may carry an epoch ("1:") and a packaging revision ("-1"): the upstream part must match.
upstream() { sed -e 's/^[0-9]*://' -e 's/-[^-]*$//'; }
f=packaging/debian/changelog
if [ -f "$f" ]; then
  expect "$f" "top entry" "$(first "$f" 's/^[^[:space:]]\{1,\} (\([^)]*\)).*/\1/p' | upstream)" "$version"
fi
for f in packaging/rpm/*.spec packaging/rpm/*.spec.in; do
  [ -f "$f" ] || continue
  v=$(first "$f" 's/^Version:[[:space:]]*\([^[:space:]]*\).*/\1/p')
  case "$v" in
    *@*@* | *%\{*\}* | *\$\{*\}*)  # filled in from CMakeLists.txt when the package is built
      echo "ok    $f: $v (Version:, filled in at build time)" ;;
    *) expect "$f" "Version:" "$v" "$version" ;;
  esac
  # The top %changelog entry: "* Mon Nov 23 2026 Name <mail> - 0.1.0-1" (the last word).
  entry=$(sed -n '/^%changelog/,$p' "$f" | sed -n 's/^\*.*[[:space:]]\([^[:space:]]*\)[[:space:]]*$/\1/p' | head -n 1)
  [ -z "$(sed -n '/^%changelog/p' "$f")" ] || expect "$f" "top %changelog entry" "$(upstream <<<"$entry")" "$version"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "packaging_versions: these do not say $version (CMakeLists.txt):"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "packaging_versions: every packaging file says $version"
