#!/usr/bin/env bash
# Installs the Debian 12 packages diffuse needs and builds it (Release) into build/.
# Usage: scripts/setup.sh            (run as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config
  libdnnl-dev          # oneDNN: matmul and convolution kernels
  nlohmann-json3-dev   # JSON: configs, safetensors headers
  libpng-dev           # PNG output
  libpcre2-dev libutf8proc-dev  # BPE tokenizers: regex pre-tokenization, Unicode normalization
  libsentencepiece-dev # T5 tokenizer (SentencePiece unigram)
  libgtest-dev libgmock-dev  # unit tests
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
echo "setup: built build/diffuse"
