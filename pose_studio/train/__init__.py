"""pose_studio.train."""
