"""pose_studio.gui."""
