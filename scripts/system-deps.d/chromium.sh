# A headless browser for the console's end-to-end test (tests/console): Debian's chromium, driven by
# Playwright for Python with executable_path=/usr/bin/chromium (never `playwright install`).
# Sourced by scripts/system-deps (as root on Debian), which defines apt_install.
apt_install chromium fonts-dejavu-core
