# Workspace.terminal runs commands in a bubblewrap sandbox (autonomy/tools/workspace.py)
apt_install bubblewrap
