# chocolateyinstall.ps1: installs the Vigil Agent MSI of this package's version, per machine,
# silently. Package parameters (Get-PackageParameters; see the nuspec's description):
#   /ServerUrl:URL  /EnrollToken:TOKEN  /CaFile:PATH  ->  SERVER_URL, ENROLL_TOKEN, CA_FILE
# The MSI refuses a first install without /ServerUrl (the agent would have no collector);
# upgrades need none.
#
# The URL names the project version (tests/packaging/check_versions.sh compares it with
# CMakeLists.txt). checksum64 is a placeholder (64 zeros) until the release: the release script
# writes the SHA-256 of the uploaded MSI here before packing; with the placeholder Chocolatey
# refuses the download (checksum mismatch).
$ErrorActionPreference = 'Stop'

$url64 = 'https://github.com/vigil-presence/vigil/releases/download/v0.1.0/vigil-agent-0.1.0-x64.msi'
$checksum64 = '0000000000000000000000000000000000000000000000000000000000000000'

$pp = Get-PackageParameters

# Each value goes inside double quotes on msiexec's command line; the MSI itself refuses
# characters that cmd.exe would interpret. A double quote cannot be passed at all.
function Format-MsiProperty([string] $name, [string] $value) {
  if ($value -match '"') { throw "The $name package parameter must not contain a double quote." }
  return "$name=`"$value`""
}

$properties = @()
if ($pp['ServerUrl']) { $properties += Format-MsiProperty 'SERVER_URL' $pp['ServerUrl'] }
if ($pp['EnrollToken']) { $properties += Format-MsiProperty 'ENROLL_TOKEN' $pp['EnrollToken'] }
if ($pp['CaFile']) { $properties += Format-MsiProperty 'CA_FILE' $pp['CaFile'] }

$packageArgs = @{
  packageName    = $env:ChocolateyPackageName
  fileType       = 'msi'
  url64bit       = $url64
  checksum64     = $checksum64
  checksumType64 = 'sha256'
  silentArgs     = (@('/qn', '/norestart') + $properties) -join ' '
  validExitCodes = @(0, 3010, 1641)
}
Install-ChocolateyPackage @packageArgs
