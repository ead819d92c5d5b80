"""Pure Python + numpy domain model. Imports no Qt, SQLAlchemy, onnxruntime, OpenCV or PyAV."""
