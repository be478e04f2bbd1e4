#!/usr/bin/env python3
"""Runs a script that calls torch.onnx.export, with the TorchScript exporter (dynamo=False)
wherever this PyTorch's export takes that argument: PyTorch 2.9 made the dynamo exporter the
default, and its graphs (opset 18 and up) are not the opset-17 ones gradlint is tested on.

    python3 test/gpu/export_legacy.py SCRIPT [ARGS...]     # e.g. bench/make_gpt2.py OUT.onnx
"""
import inspect
import os
import runpy
import sys

import torch

_export = torch.onnx.export
if "dynamo" in inspect.signature(_export).parameters:
    def _legacy_export(*args, **kwargs):
        kwargs.setdefault("dynamo", False)
        return _export(*args, **kwargs)

    torch.onnx.export = _legacy_export

if len(sys.argv) < 2:
    sys.exit(__doc__)
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
runpy.run_path(sys.argv[0], run_name="__main__")
