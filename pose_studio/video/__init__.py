"""pose_studio.video."""
