# chocolateyuninstall.ps1: uninstalls Vigil Agent with msiexec /x, whatever version is
# installed: Windows Installer lists the installed products of the MSI's UpgradeCode
# (installers/windows/vigil-agent.wxi; it never changes). The MSI's uninstall retires the
# agent at its collector; package parameter /PurgeState also deletes C:\ProgramData\Vigil
# (PURGE_STATE=1):  choco uninstall vigil-agent --params "'/PurgeState'"
$ErrorActionPreference = 'Stop'

$upgradeCode = '{EC13B815-599D-48A4-8525-77F1E75C43E3}'
$pp = Get-PackageParameters

$installer = New-Object -ComObject WindowsInstaller.Installer
$productCodes = @($installer.RelatedProducts($upgradeCode))
if ($productCodes.Count -eq 0) {
  Write-Warning "Vigil Agent is not installed (no product with UpgradeCode $upgradeCode)."
  return
}

$purge = ''
if ($pp['PurgeState']) { $purge = ' PURGE_STATE=1' }
foreach ($productCode in $productCodes) {
  $packageArgs = @{
    packageName    = $env:ChocolateyPackageName
    fileType       = 'msi'
    silentArgs     = "$productCode /qn /norestart$purge"
    file           = ''
    validExitCodes = @(0, 3010, 1605, 1614, 1641)
  }
  Uninstall-ChocolateyPackage @packageArgs
}
