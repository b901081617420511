"""The fleet's contracts (`*.proto`) and their generated Python modules (`*_pb2.py`).

Regenerate after editing a `.proto`: `python -m sdk.proto.generate`.
"""
