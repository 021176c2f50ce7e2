#!/usr/bin/env python3
"""The reference runtime for sluice-infer's tests: ONNX Runtime (from PyPI) runs a model on
input tensors that sluice preprocessed, so the test compares the two runtimes on exactly the
same numbers.

    reference.py MODEL SHAPE TENSOR...

SHAPE is the input shape, e.g. 1,3,224,224; each TENSOR is a file of little-endian float32
samples in that shape. Prints one JSON line: a list, per tensor, of the first output's values.
Exit status 3 when onnxruntime or numpy is not installed.
"""
import json
import sys

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:
    print(f"reference.py: {e}", file=sys.stderr)
    sys.exit(3)


def main():
    model, shape, tensors = sys.argv[1], sys.argv[2], sys.argv[3:]
    dims = [int(d) for d in shape.split(",")]
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = []
    for path in tensors:
        x = np.fromfile(path, dtype="<f4").reshape(dims)
        out = session.run(None, {name: x})[0]
        outputs.append([float(v) for v in np.asarray(out).ravel()])
    print(json.dumps(outputs))


if __name__ == "__main__":
    main()
