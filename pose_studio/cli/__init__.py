"""pose_studio.cli."""
