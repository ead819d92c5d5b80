"""pose_studio.formats."""
