"""Files: still images (read, write), folders of them, and video."""
