#!/usr/bin/env bash
# Installs Google's Cloud Firestore emulator (the Debian package
# google-cloud-cli-firestore-emulator, a Java jar) for the store tests, on
# Debian or Ubuntu, from Google's own apt repository.
#
# The repository is added explicitly, with Google's signing key, because
# GitHub's hosted Ubuntu runners install gcloud from it and then remove its
# apt source: `apt-get install google-cloud-cli-firestore-emulator` alone
# finds no such package there. (`gcloud components install` does not work
# either: the component manager is disabled for an apt-installed gcloud.)
# Does nothing when the package is already installed.
set -euo pipefail

package=google-cloud-cli-firestore-emulator
keyring=/usr/share/keyrings/cloud.google.gpg
source_list=/etc/apt/sources.list.d/google-cloud-sdk.list

if dpkg -s "$package" >/dev/null 2>&1; then
    echo "install-firestore-emulator: $package is already installed"
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi

curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | $sudo gpg --dearmor --yes -o "$keyring"
echo "deb [signed-by=$keyring] https://packages.cloud.google.com/apt cloud-sdk main" | $sudo tee "$source_list" >/dev/null
$sudo apt-get update
# The package also pulls google-cloud-cli and a JDK (it depends on openjdk 8/11/17/21).
$sudo apt-get install -y --no-install-recommends "$package"
dpkg -L "$package" | grep '/cloud-firestore-emulator\.jar$'
