"""One backend instance's way onto a torch device, shared by the Keypoint R-CNN backends.

What a throughput-minded forward pass needs, in one place:

* ``torch.inference_mode`` and autocast in the chosen precision (``auto``: fp16 on CUDA, fp32 on a CPU;
  ``fp32``, ``fp16``, ``bf16`` on request).
* Frames cross to the device as uint8 (4x fewer bytes than float32); everything after the copy
  (colour order, float conversion, resize, normalisation) runs on the device, in the backend.
* On CUDA: each instance (one per pose worker) has its own CUDA stream, so several workers on one GPU
  overlap their copies and kernels; a batch of same-sized frames is staged in one pinned host buffer
  (reused from call to call) and copied with one non-blocking transfer. Leaving :meth:`running`
  waits for the stream, so results are complete and the staging buffer is free for the next call.

On a CPU the same code runs without the CUDA-only parts (no stream, no pinned memory, no copy at all:
the frames are wrapped as they are), so tests exercise everything but those.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def autocast_dtype(precision: str, device: str) -> Any:
    """The torch dtype autocast runs in for ``precision`` on ``device``; None for plain float32."""
    import torch  # noqa: PLC0415 - heavy, only for the torch backends

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return torch.float16 if device.startswith("cuda") else None
    return {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


class TorchDevice:
    """Stream, staging buffer and autocast settings of one backend instance on one device."""

    def __init__(self, device: str, precision: str = "auto") -> None:
        import torch  # noqa: PLC0415

        self._torch = torch
        self.device = device
        self.is_cuda = device.startswith("cuda")
        self.precision = precision
        self.dtype = autocast_dtype(precision, device)
        self.stream: Any = torch.cuda.Stream(device=torch.device(device)) if self.is_cuda else None
        self._staging: Any = None  # pinned uint8 (N, H, W, 3), grown as needed

    @property
    def precision_name(self) -> str:
        """What the forward pass really runs in: fp32, fp16 or bf16."""
        names = {None: "fp32", self._torch.float16: "fp16", self._torch.bfloat16: "bf16"}
        return names[self.dtype]

    @contextmanager
    def running(self) -> Iterator[None]:
        """Inference mode, this instance's stream (CUDA) and autocast; waits for the stream on exit."""
        torch = self._torch
        with ExitStack() as stack:
            stack.enter_context(torch.inference_mode())
            if self.stream is not None:
                stack.enter_context(torch.cuda.stream(self.stream))
            device_type = "cuda" if self.is_cuda else "cpu"
            stack.enter_context(
                torch.autocast(device_type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)
            )
            yield
        if self.stream is not None:
            self.stream.synchronize()

    def upload(self, images: Sequence[np.ndarray]) -> list[Any]:
        """The frames as uint8 ``H x W x 3`` tensors on the device (call inside :meth:`running`)."""
        torch = self._torch
        if not self.is_cuda:
            return [torch.from_numpy(np.ascontiguousarray(img)) for img in images]
        shape = images[0].shape
        if any(img.shape != shape for img in images):  # mixed sizes: one pinned copy each
            return [
                torch.from_numpy(np.ascontiguousarray(img)).pin_memory().to(self.device, non_blocking=True)
                for img in images
            ]
        staging = self._staging_for(len(images), shape)
        host = staging.numpy()
        for i, img in enumerate(images):
            np.copyto(host[i], img)
        return list(staging[: len(images)].to(self.device, non_blocking=True).unbind(0))

    def _staging_for(self, n: int, shape: tuple[int, ...]) -> Any:
        staging = self._staging
        if staging is None or staging.shape[1:] != shape or staging.shape[0] < n:
            rows = n if staging is None or staging.shape[1:] != shape else max(n, staging.shape[0])
            staging = self._torch.empty((rows, *shape), dtype=self._torch.uint8, pin_memory=True)
            self._staging = staging
        return staging
