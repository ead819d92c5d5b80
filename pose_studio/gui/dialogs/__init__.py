"""Dialogs: COCO export/import, shortcuts help, train from labels."""
