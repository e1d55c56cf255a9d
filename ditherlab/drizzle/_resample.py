"""The :class:`Drizzle` accumulator (STScI ``drizzle.resample`` interface, vectorised)."""

from __future__ import annotations

import contextlib
import math
import os
import queue
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from ditherlab._validation import as_choice, as_float, as_int
from ditherlab.drizzle._kernels import KERNELS, block_pieces
from ditherlab.drizzle._scan import scan_limits
from ditherlab.errors import (
    DitherlabTypeError,
    DitherlabValueError,
    DitherlabWarning,
    DrizzleStateError,
)

__all__ = ["CTX_PLANE_BITS", "Drizzle", "estimate_pixel_scale_ratio"]

CTX_PLANE_BITS = 32
#: Target number of kernel contributions handled at once (bounds the working set).
_CHUNK_CONTRIBUTIONS = 1 << 18
#: Least contributions of a tile of a small image (see :func:`_tiles`).
_MIN_TILE_CONTRIBUTIONS = 1 << 15
#: Input pixels of a square-kernel tile (see :func:`_tiles`).
_SQUARE_TILE_PIXELS = 1 << 15
#: Output pixels merged at once by the tile merge (bounds its temporaries).
_MERGE_SLAB = 1 << 17
#: Input pixels below which ``add_image`` uses one thread unless ``n_threads`` is given:
#: measured on 2 vCPUs, a second thread saved nothing on 512² and 768² images, 0-25 % on
#: 1024² (noisy) and 10-25 % from 1448², while it adds a tile's working set (~14 MiB for
#: square).
_THREADS_MIN_PIXELS = 1 << 20


def estimate_pixel_scale_ratio(pixmap: np.ndarray) -> float:
    """Output pixel size in input pixels, from the pixmap's Jacobian at the image centre.

    The C drizzle's estimate is the inverse of this (``sqrt(|det J|)``); ours is
    ``1 / sqrt(|det J|)``, which is the ``s`` its documentation asks for.

    Parameters
    ----------
    pixmap : ndarray, shape (ny, nx, 2)
        Pixel map.

    Returns
    -------
    float
        ``s`` (0.5 for an output grid twice as fine as the input).

    Examples
    --------
    >>> y, x = np.indices((10, 10), dtype=float)
    >>> estimate_pixel_scale_ratio(np.dstack([2 * x, 2 * y]))
    0.5
    """
    ny, nx = pixmap.shape[:2]
    j = min(max(ny // 2, 0), ny - 2)
    i = min(max(nx // 2, 0), nx - 2)
    block = pixmap[j : j + 2, i : i + 2]
    dxdi = block[0, 1] - block[0, 0]
    dxdj = block[1, 0] - block[0, 0]
    det = abs(dxdi[0] * dxdj[1] - dxdi[1] * dxdj[0])
    if not (det > 0 and math.isfinite(det)):
        raise DitherlabValueError(
            "pixel_scale_ratio=None cannot be estimated: the pixmap is degenerate or NaN "
            "at the image centre; pass pixel_scale_ratio explicitly"
        )
    return 1.0 / math.sqrt(det)


def _fill_value(fillval: Any, have_img: bool) -> float | None:
    """None means 'do not fill' (leave out_img as it is)."""
    if fillval is None or (isinstance(fillval, str) and fillval.strip().upper() in ("", "INDEF")):
        return None if have_img else math.nan
    if isinstance(fillval, str):
        try:
            return float(fillval)
        except ValueError:
            raise DitherlabValueError(f"fillval={fillval!r} is not a number or 'INDEF'") from None
    return as_float("fillval", fillval) if math.isfinite(float(fillval)) else float(fillval)


def _caller_output(name: str, arr: Any, dtype) -> np.ndarray:
    """A caller's ``out_img``/``out_wht``/``out_ctx`` as the array to update.

    An ndarray of ``dtype`` is used in place, so it must be writeable and C-contiguous (the
    merges write through flat views: a Fortran-ordered or sliced array would be copied by
    them and the writes lost).  Anything else is converted to a new C-ordered array.
    """
    if isinstance(arr, np.ndarray) and arr.dtype == dtype:
        if not arr.flags.writeable:
            raise DitherlabValueError(
                f"{name} is read-only (flags.writeable=False) and cannot be updated in place; "
                f"pass a writeable array, e.g. {name}.copy()"
            )
        if not arr.flags.c_contiguous:
            raise DitherlabValueError(
                f"{name} (shape {arr.shape}, strides {arr.strides}) is not C-contiguous "
                f"(Fortran-ordered or a slice), so it cannot be updated in place; pass "
                f"np.ascontiguousarray({name}) and read the results from Drizzle.{name}"
            )
        return np.asarray(arr)
    return np.asarray(arr, dtype=dtype, order="C")


def _wht_scale(value: Any) -> float:
    """``wht_scale`` checked: > 0 also in float32, where the weights are formed (as C)."""
    v = as_float("wht_scale", value, minimum=0.0, min_inclusive=False)
    if np.float32(v) == 0:
        raise DitherlabValueError(
            f"wht_scale={value!r} is 0 in float32 (the weights' precision); it must be > 0"
        )
    return v


def _warn_ignored_pixfrac(kernel: str, pixfrac: float, legacy: bool) -> None:
    """Warn (once per call) that the lanczos kernels ignore ``pixfrac != 1``.

    Both ours and the legacy (C) lanczos span ``order / s`` output pixels whatever
    ``pixfrac`` is; C drizzle 3.0.0 warns "In lanczos kernel, pixel_fraction is ignored and
    assumed to be 1.0" on every ``add_image`` call.
    """
    if kernel in ("lanczos2", "lanczos3") and pixfrac != 1.0:
        which = "legacy " if legacy else ""
        warnings.warn(
            f"pixfrac={pixfrac!r} is ignored by the {which}{kernel} kernel, as by the C "
            f"drizzle: its size is set by pixel_scale_ratio alone (as if pixfrac=1)",
            DitherlabWarning,
            stacklevel=3,
        )


def _block_geometry(rows, x1, x2, chunk):
    """Bounding box ``ja:jb`` × ``xa:xb`` of a chunk of scan rows and its processed mask.

    ``rows``, ``x1``, ``x2`` are the scan rule's rows and inclusive column limits; a chunk
    is ``(a, b)`` (scan rows ``a:b``) or a tile ``(a, b, ca, cb)`` (also columns
    ``ca..cb`` only).  ``processed`` (raveled over the box) is True where the rule
    processes the pixel.  Returns None when the tile holds no processed pixel.
    """
    a_, b_ = chunk[:2]
    r, lo, hi = rows[a_:b_], x1[a_:b_], x2[a_:b_]
    if len(chunk) == 4:
        lo = np.maximum(lo, chunk[2])
        hi = np.minimum(hi, chunk[3])
        keep = hi >= lo
        if not keep.all():
            if not keep.any():
                return None
            r, lo, hi = r[keep], lo[keep], hi[keep]
    ja, jb = int(r[0]), int(r[-1]) + 1
    xa, xb = int(lo.min()), int(hi.max())
    ncol = xb - xa + 1
    lim_lo = np.full(jb - ja, ncol, np.intp)
    lim_hi = np.full(jb - ja, -1, np.intp)
    lim_lo[r - ja] = lo - xa
    lim_hi[r - ja] = hi - xa
    cols = np.arange(ncol)
    processed = ((cols >= lim_lo[:, None]) & (cols <= lim_hi[:, None])).ravel()
    return ja, jb, xa, xb, cols, processed


def _finite_pixmap(pixmap: np.ndarray) -> np.ndarray:
    """Mark pixels with any non-finite pixmap coordinate as undefined (both NaN)."""
    if math.isfinite(float(np.add.reduce(pixmap, axis=None))):  # one cheap pass, usual case
        return pixmap
    bad = ~np.isfinite(pixmap).all(axis=-1)
    if not bad.any():
        return pixmap
    out = pixmap.copy()
    out[bad] = np.nan
    return out


class Drizzle:
    """Resample and co-add images onto one output grid with the drizzle algorithm.

    Keyword names, conventions and outputs follow STScI's ``drizzle.resample.Drizzle`` so
    that users can switch without relearning (Fruchter & Hook 2002, PASP 114, 144).  The
    output image is a weighted mean: for every output pixel,
    ``out_img = Σ a·w·d / Σ a·w`` and ``out_wht = Σ a·w``, where ``a`` is the kernel weight
    (for ``square``, the overlap area of the drop with the pixel divided by the drop's area),
    ``w = weight_map · wht_scale`` and ``d = data · iscale`` (divided by ``exptime`` when
    ``in_units="counts"``).  Hence, **when the whole input lands inside the output**::

        sum(out_img * out_wht) / iscale == Σ data · weight      (data in cps)
        sum(out_wht) == wht_scale · Σ weight_map

    for the flux-conserving kernels (square, turbo, point, and our gaussian, lanczos and
    tophat).  Pixels without data hold ``fillval`` (NaN by default), so sum with
    ``np.nansum`` or pass ``fillval=0``.  ``sum(out_img)`` alone is *not* conserved: it is a
    mean, not a sum.  To put total counts on a finer grid use ``iscale = s**2`` with ``s``
    the output pixel size in input pixels.

    Parameters
    ----------
    kernel : {"square", "point", "turbo", "gaussian", "lanczos2", "lanczos3", "tophat"}
        How the flux of an input pixel is spread.
    fillval : float, str or None
        Value of output pixels without any contribution.  ``None``/``"INDEF"`` leaves a
        caller-supplied ``out_img`` untouched and gives NaN in a new one.
    out_shape : tuple of int, optional
        ``(ny, nx)`` of the output.  If no shape is given at all, it is inferred from the
        first pixmap (as ``(ny, nx)``; the C drizzle transposes it).
    out_img, out_wht : ndarray, optional
        Existing float32 output image and weight to continue.  A C-contiguous, writeable
        float32 array is updated in place (it *is* ``out_img``/``out_wht``); an array of
        another dtype is copied (as C does): read the results from the properties.
    out_ctx : ndarray, optional
        Existing int32 context, ``(ny, nx)`` or ``(planes, ny, nx)``; used in place like
        ``out_img`` (until an image needs a new context plane).
    exptime : float
        Total exposure time already in ``out_img``.
    begin_ctx_id : int
        Context id of the first image added.
    max_ctx_id : int, optional
        Largest context id expected (pre-allocates context planes).
    disable_ctx : bool
        Do not keep a context image.
    legacy_kernels : bool
        Use the C drizzle's weights for gaussian, lanczos2/3 and tophat (they do not
        conserve flux) instead of ours (normalised per input pixel, flux conserving).
    n_threads : int, optional
        Workers for the kernel arithmetic.  Default: up to 2 when at least 2**20 input
        pixels are processed, and for :meth:`add_prepared`; else 1 (on small images a
        second worker saved no time in our measurements and adds a working set).  On
        Linux, with more than one and at least ``2 * n_threads`` tiles, the square,
        gaussian, lanczos and tophat kernels compute their tiles in forked worker
        processes (the GIL held threads to ~1.1x one thread; processes reach ~1.4-1.9x)
        and merge them here in order; point and turbo use threads, as does everything
        when ``DITHERLAB_DRIZZLE_FORK=0`` is set in the environment.  Either way the
        outputs do not depend on ``n_threads``, bit for bit.

    Raises
    ------
    DitherlabValueError
        Bad values or shapes; an ``out_img``, ``out_wht`` or ``out_ctx`` of the right dtype
        that is read-only or not C-contiguous (it could not be updated in place; C drizzle
        3.0.0 writes into a contiguous copy of it, so every write is lost).

    Notes
    -----
    Differences from the C drizzle (deliberate): see ``docs/drizzle.md``.  In short: NaN or
    infinite data get zero weight (C propagates them); weight maps must be finite and
    non-negative; ``pixel_scale_ratio=None`` is estimated the right way round; an inferred
    ``out_shape`` is not transposed; the miss counter counts pixels; gaussian/lanczos/tophat
    conserve flux unless ``legacy_kernels=True``; ``pixfrac`` below 0.001 is not silently
    switched to the point kernel for square/turbo (the exact overlap is computed).

    References
    ----------
    Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144, "Drizzle: A Method for the Linear
    Reconstruction of Undersampled Images".

    Examples
    --------
    >>> y, x = np.indices((20, 30), dtype=float)
    >>> d = Drizzle(out_shape=(24, 34))
    >>> _ = d.add_image(np.ones((20, 30)), exptime=1.0, pixmap=np.dstack([x + 2.3, y + 1.6]))
    >>> float(np.nansum(d.out_img * d.out_wht))  # empty pixels are NaN (fillval=None)
    600.0
    >>> round(float(np.nanmax(d.out_img)), 6), round(float(d.out_wht.sum()), 3)
    (1.0, 600.0)
    """

    def __init__(
        self,
        kernel: str = "square",
        fillval: Any = None,
        out_shape: tuple[int, int] | None = None,
        out_img: np.ndarray | None = None,
        out_wht: np.ndarray | None = None,
        out_ctx: np.ndarray | None = None,
        exptime: float = 0.0,
        begin_ctx_id: int = 0,
        max_ctx_id: int | None = None,
        disable_ctx: bool = False,
        *,
        legacy_kernels: bool = False,
        n_threads: int | None = None,
    ) -> None:
        self._kernel = as_choice("kernel", kernel, KERNELS)
        self._spoiled: str | None = None  # why the outputs hold part of an image (see _failed)
        self._legacy = bool(legacy_kernels)
        self._disable_ctx = bool(disable_ctx)
        self._texptime = as_float("exptime", exptime, minimum=0.0)
        # None: two threads where they pay (see _THREADS_MIN_PIXELS), else one
        self._n_threads = None if n_threads is None else as_int("n_threads", n_threads, minimum=1)
        if not self._disable_ctx:
            self._ctx_id = as_int("begin_ctx_id", begin_ctx_id, minimum=0)
            if max_ctx_id is None:
                max_ctx_id = self._ctx_id
            max_ctx_id = as_int("max_ctx_id", max_ctx_id, minimum=self._ctx_id)
        else:
            self._ctx_id = None
        self._max_ctx_id = max_ctx_id
        if self._texptime > 0 and out_img is None and out_wht is None and out_ctx is None:
            raise DitherlabValueError(
                f"exptime={exptime!r} must be 0 when no previous out_img/out_wht/out_ctx is given"
            )
        self._fill = _fill_value(fillval, out_img is not None)
        # a caller's out_img gets the fill value where out_wht == 0 at the first add (as C
        # does after every add); afterwards the merges keep "out_img == fill where
        # out_wht == 0" true, so no pass over the whole output is needed per image
        self._fill_pending = self._fill is not None and out_img is not None
        shapes: dict[str, tuple[int, ...]] = {}
        if out_img is not None:
            out_img = _caller_output("out_img", out_img, np.float32)
            if out_img.ndim != 2:
                raise DitherlabValueError(f"out_img must be 2-D, got shape {out_img.shape}")
            shapes["out_img"] = out_img.shape
        if out_wht is not None:
            out_wht = _caller_output("out_wht", out_wht, np.float32)
            if out_wht.ndim != 2:
                raise DitherlabValueError(f"out_wht must be 2-D, got shape {out_wht.shape}")
            shapes["out_wht"] = out_wht.shape
        if out_ctx is not None and not self._disable_ctx:
            out_ctx = _caller_output("out_ctx", out_ctx, np.int32)
            if out_ctx.ndim == 2:
                out_ctx = out_ctx[None]
            if out_ctx.ndim != 3:
                raise DitherlabValueError(f"out_ctx must be 2-D or 3-D, got shape {out_ctx.shape}")
            shapes["out_ctx"] = out_ctx.shape[1:]
        if out_shape is not None:
            try:
                out_shape = tuple(as_int("out_shape", v, minimum=1) for v in out_shape)
            except TypeError:
                raise DitherlabTypeError(f"out_shape={out_shape!r} must be (ny, nx)") from None
            if len(out_shape) != 2:
                raise DitherlabValueError(f"out_shape={out_shape!r} must be (ny, nx)")
            shapes["out_shape"] = out_shape
        if len(set(shapes.values())) > 1:
            raise DitherlabValueError(f"output shapes disagree: {shapes}")
        if self._texptime == 0 and (
            (out_wht is not None and np.any(out_wht > 0))
            or (out_ctx is not None and not self._disable_ctx and np.any(out_ctx != 0))
        ):
            raise DitherlabValueError(
                "exptime=0 but out_wht/out_ctx already hold contributions; pass their exptime"
            )
        self._out_shape: tuple[int, int] | None = None
        self._out_img = self._out_wht = self._out_ctx = None
        if shapes:
            self._alloc(next(iter(shapes.values())), out_img, out_wht, out_ctx)

    # ------------------------------------------------------------------ properties
    @property
    def kernel(self) -> str:
        """Name of the kernel."""
        return self._kernel

    @property
    def fillval(self) -> float | None:
        """Fill value of pixels without contributions (None: left untouched)."""
        return self._fill

    @property
    def ctx_id(self) -> int | None:
        """Context id the next image will get (None when context is disabled)."""
        return self._ctx_id

    @property
    def out_img(self) -> np.ndarray | None:
        """Output image (float32, weighted mean of the inputs)."""
        return self._out_img

    @property
    def out_wht(self) -> np.ndarray | None:
        """Output weight (float32, ``Σ a·w``)."""
        return self._out_wht

    @property
    def out_ctx(self) -> np.ndarray | None:
        """Context, int32 ``(planes, ny, nx)``; bit ``k`` of plane ``p`` is image ``32p+k``."""
        return self._out_ctx

    @property
    def total_exptime(self) -> float:
        """Total exposure time of all images added."""
        return self._texptime

    # ------------------------------------------------------------------ internals
    def _alloc(self, shape, out_img, out_wht, out_ctx):
        self._out_shape = (int(shape[0]), int(shape[1]))
        self._out_wht = np.zeros(shape, np.float32) if out_wht is None else out_wht
        if self._disable_ctx:
            self._out_ctx = None
        elif out_ctx is None:
            self._out_ctx = np.zeros(
                (self._max_ctx_id // CTX_PLANE_BITS + 1, *shape), dtype=np.int32
            )
        else:
            self._out_ctx = out_ctx
            if out_wht is not None and np.any((out_wht > 0) != np.any(out_ctx != 0, axis=0)):
                raise DitherlabValueError(
                    "out_wht and out_ctx disagree: pixels with context bits must have weight > 0"
                )
        if out_img is None:
            fill = math.nan if self._fill is None else self._fill
            self._out_img = np.full(shape, fill, dtype=np.float32)
        else:
            self._out_img = out_img

    def _apply_pending_fill(self, gate: _MergeGate) -> None:
        if self._fill_pending:
            empty = self._out_wht == 0
            gate.enter()
            np.copyto(self._out_img, np.float32(self._fill), where=empty)
            self._fill_pending = False

    def _next_ctx(self) -> tuple[int, int] | None:
        if self._disable_ctx:
            return None
        plane = self._ctx_id // CTX_PLANE_BITS
        if plane >= self._out_ctx.shape[0]:
            extra = np.zeros((plane + 1 - self._out_ctx.shape[0], *self._out_shape), dtype=np.int32)
            self._out_ctx = np.concatenate([self._out_ctx, extra], axis=0)
        bit = self._ctx_id % CTX_PLANE_BITS
        self._ctx_id += 1
        return plane, bit

    def _check_usable(self) -> None:
        if self._spoiled is not None:
            raise DrizzleStateError(
                f"this Drizzle cannot take more images: an earlier add was interrupted "
                f"({self._spoiled}) after part of that image had been merged, so "
                "out_img/out_wht/out_ctx hold part of it; start a new Drizzle"
            )

    #: What an add changes before merging (restored when it fails before its first merge).
    _STATE = (
        "_ctx_id",
        "_texptime",
        "_out_shape",
        "_out_img",
        "_out_wht",
        "_out_ctx",
        "_fill_pending",
    )

    def _state(self) -> tuple:
        """The values of :attr:`_STATE` (references: the arrays are not copied)."""
        return tuple(getattr(self, name) for name in self._STATE)

    def _failed(self, state: tuple, gate: _MergeGate, exc: BaseException) -> None:
        """An add failed: undo it if nothing was merged yet, else mark the outputs spoiled.

        Undoing a merge would need a copy of the output it touched (as much memory again as
        the output), so an add interrupted after its first merge is not undone: the outputs
        keep what was merged, and later adds raise :class:`DrizzleStateError`.
        """
        if gate.close():
            self._spoiled = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            for name, value in zip(self._STATE, state, strict=True):
                setattr(self, name, value)

    # ------------------------------------------------------------------ public
    def add_image(
        self,
        data: np.ndarray,
        exptime: float,
        pixmap: np.ndarray,
        weight_map: np.ndarray | None = None,
        wht_scale: float = 1.0,
        pixfrac: float = 1.0,
        in_units: str = "cps",
        iscale: float = 1.0,
        pixel_scale_ratio: float | None = 1.0,
        xmin: int | None = None,
        xmax: int | None = None,
        ymin: int | None = None,
        ymax: int | None = None,
    ) -> tuple[int, int]:
        """Drizzle one image onto the output and update ``out_img``, ``out_wht``, ``out_ctx``.

        Parameters
        ----------
        data : array_like, shape (ny, nx)
            Input image.  NaN or infinite pixels are given zero weight.
        exptime : float
            Exposure time (> 0); divides ``data`` when ``in_units="counts"``.
        pixmap : array_like, shape (ny, nx, 2)
            Output x (``[..., 0]``) and y (``[..., 1]``) of every input pixel centre, 0-based.
            Pixels whose mapping is NaN or infinite are skipped (with the square kernel
            their neighbours too, since the drop corners are interpolated from the
            pixmap, as in C).
        weight_map : array_like, shape (ny, nx), optional
            Finite, non-negative per-pixel weights (default 1).
        wht_scale : float
            Factor applied to the weights.
        pixfrac : float
            Linear size of the drop in input pixels, ``0 < pixfrac``.
        in_units : {"cps", "counts"}
            Units of ``data``.
        iscale : float
            Factor applied to ``data`` (``s**2`` for flux-conserving resampling of counts).
        pixel_scale_ratio : float or None
            Output pixel size in input pixels, used only to size the turbo, gaussian,
            lanczos and tophat kernels; None estimates it from the pixmap.
        xmin, xmax, ymin, ymax : int, optional
            Inclusive input section to drizzle (0-based).

        Returns
        -------
        nmiss : int
            Input pixels of the section that contributed to no output pixel.
        nskip : int
            Input rows of the section that were skipped entirely.

        Raises
        ------
        DitherlabValueError
            Shapes that disagree, non-positive exptime/pixfrac/wht_scale, bad units, NaN or
            negative weights (checked before anything is changed).
        DrizzleStateError
            An earlier ``add_image``/``add_prepared`` of this object was interrupted after
            part of its image had been merged (see Notes).

        Warns
        -----
        DitherlabWarning
            ``pixfrac != 1`` with the lanczos kernels, which ignore it (as C does).

        Notes
        -----
        If the call fails (an error in a tile computed on a worker thread, ``MemoryError``,
        ``KeyboardInterrupt``...) before anything was merged into the outputs, it is undone:
        the outputs, ``ctx_id`` and ``total_exptime`` are as before and the object stays
        usable.  If it fails after part of the image was merged, the outputs keep that part
        (undoing it would need a copy of the output); ``ctx_id`` and ``total_exptime`` count
        the image, and every later ``add_image``/``add_prepared`` raises
        :class:`~ditherlab.errors.DrizzleStateError`: start a new ``Drizzle``.  The original
        exception propagates unchanged in both cases.
        """
        self._check_usable()
        exptime = as_float("exptime", exptime, minimum=0.0, min_inclusive=False)
        pixfrac = as_float("pixfrac", pixfrac, minimum=0.0, min_inclusive=False)
        wht_scale = _wht_scale(wht_scale)
        iscale = as_float("iscale", iscale)
        in_units = as_choice("in_units", in_units, ("cps", "counts"))
        data = np.asarray(data)
        if data.ndim != 2 or data.dtype.kind not in "biuf":
            raise DitherlabValueError(
                f"data must be a 2-D numeric array, got shape {data.shape} dtype {data.dtype}"
            )
        ny, nx = data.shape
        if ny < 2 or nx < 2:
            raise DitherlabValueError(f"data shape {data.shape} must be at least (2, 2)")
        pixmap = np.asarray(pixmap, dtype=np.float64)
        if pixmap.shape != (ny, nx, 2):
            raise DitherlabValueError(
                f"pixmap shape {pixmap.shape} is not consistent with data shape {data.shape}: "
                f"expected {(ny, nx, 2)}"
            )
        if weight_map is not None:
            weight_map = np.asarray(weight_map, dtype=np.float32)
            if weight_map.shape != data.shape:
                raise DitherlabValueError(
                    f"weight_map shape {weight_map.shape} is not consistent with data shape "
                    f"{data.shape}"
                )
            bad = ~(np.isfinite(weight_map) & (weight_map >= 0))
            if np.any(bad):
                pos = tuple(int(v) for v in np.argwhere(bad)[0])
                raise DitherlabValueError(
                    f"weight_map must be finite and >= 0; element {pos} is {weight_map[pos]}"
                )
        if pixel_scale_ratio is None:
            pixel_scale_ratio = estimate_pixel_scale_ratio(pixmap)
        pixel_scale_ratio = as_float(
            "pixel_scale_ratio", pixel_scale_ratio, minimum=0.0, min_inclusive=False
        )
        box = _section(nx, ny, xmin, xmax, ymin, ymax)
        _warn_ignored_pixfrac(self._kernel, pixfrac, self._legacy)

        checked = _finite_pixmap(pixmap)
        finite, pixmap = checked is pixmap, checked  # (a copy when some were not finite)
        shape = None
        if self._out_shape is None:
            # (ny, nx) reaching the largest mapped position, as C does but not transposed;
            # no shift, so later images land in the same frame as the first
            valid = np.isfinite(pixmap).all(axis=2)
            if not np.any(valid):
                raise DitherlabValueError("pixmap has no finite values; cannot infer out_shape")
            px, py = pixmap[..., 0][valid], pixmap[..., 1][valid]
            if px.max() < -0.5 or py.max() < -0.5:
                raise DitherlabValueError(
                    "pixmap maps every pixel to negative output coordinates; pass out_shape"
                )
            # far enough for the whole drop around the largest mapped centre (C's rule)
            shape = (math.ceil(py.max()) + 1, math.ceil(px.max()) + 1)
            if shape[0] * shape[1] > 2**31:
                raise DitherlabValueError(
                    f"inferred out_shape {shape} is too large (pixmap reaches "
                    f"x={px.max():.3g}, y={py.max():.3g}); pass out_shape"
                )

        state = self._state()
        gate = _MergeGate()
        try:
            if shape is not None:
                self._alloc(shape, None, None, None)
            ctx = self._next_ctx()
            self._texptime += exptime

            expscale = exptime if in_units == "counts" else 1.0
            # float32 arithmetic as the C drizzle: data/exptime, then * iscale
            d32 = data.astype(np.float32, copy=False)
            if expscale != 1.0:
                d32 = d32 * np.float32(1.0 / expscale)
            dscale = np.float32(iscale)

            contributed, nskip = self._drizzle(
                d32,
                dscale,
                pixmap,
                weight_map,
                np.float32(wht_scale),
                pixfrac,
                pixel_scale_ratio,
                box,
                ctx,
                finite,
                gate,
            )
            self._apply_pending_fill(gate)
        except BaseException as exc:
            self._failed(state, gate, exc)
            raise
        nbox = (box[1] - box[0] + 1) * (box[3] - box[2] + 1)
        return int(nbox - contributed), int(nskip)

    def add_prepared(
        self,
        operator: Any,
        data: np.ndarray,
        exptime: float,
        weight_map: np.ndarray | None = None,
        wht_scale: float = 1.0,
        in_units: str = "cps",
        iscale: float = 1.0,
    ) -> tuple[int, int]:
        """Add one frame through a prepared operator (see :func:`prepare`).

        Equivalent to :meth:`add_image` with the geometry the operator was built from, but
        the kernel geometry is not recomputed: two sparse products per frame.  Each frame
        may have its own ``weight_map`` (e.g. a cosmic-ray mask).  The operator is applied
        block by block of output pixels (products and merge of one block at a time, on up
        to ``n_threads`` threads), so the call needs a few MiB of work buffers per thread
        and no array of the output's size.

        Parameters
        ----------
        operator : DrizzleOperator
            From :func:`prepare`; its ``out_shape`` must match this object's output.
        data : array_like
            Input frame, shape ``operator.in_shape``.
        exptime : float
            Exposure time (> 0).
        weight_map : array_like, optional
            Finite non-negative weights.
        wht_scale : float
            Weight factor.
        in_units : {"cps", "counts"}
            Units of ``data``.
        iscale : float
            Data factor.

        Returns
        -------
        nmiss, nskip : int
            As :meth:`add_image` (geometry only).

        Raises
        ------
        DitherlabValueError
            Shapes that disagree or bad values (checked before anything is changed).
        DitherlabTypeError
            ``operator`` is not a :class:`DrizzleOperator`.
        DrizzleStateError
            An earlier ``add_image``/``add_prepared`` of this object was interrupted after
            part of its image had been merged.

        Notes
        -----
        A failure part-way is handled as in :meth:`add_image`: undone if nothing was merged
        yet, else the outputs keep the merged part and the object refuses further adds.
        """
        self._check_usable()
        exptime = as_float("exptime", exptime, minimum=0.0, min_inclusive=False)
        wht_scale = _wht_scale(wht_scale)
        iscale = as_float("iscale", iscale)
        in_units = as_choice("in_units", in_units, ("cps", "counts"))
        from ditherlab.drizzle._operator import DrizzleOperator  # (imports this module)

        if not isinstance(operator, DrizzleOperator):
            raise DitherlabTypeError(f"operator={type(operator).__name__} is not a DrizzleOperator")
        data = np.asarray(data)
        if data.shape != operator.in_shape:
            raise DitherlabValueError(
                f"data shape {data.shape} is not the operator's input shape {operator.in_shape}"
            )
        if weight_map is not None:
            weight_map = np.asarray(weight_map, dtype=np.float32)
            if weight_map.shape != data.shape:
                raise DitherlabValueError(
                    f"weight_map shape {weight_map.shape} is not consistent with data shape "
                    f"{data.shape}"
                )
            bad = ~(np.isfinite(weight_map) & (weight_map >= 0))
            if np.any(bad):
                pos = tuple(int(v) for v in np.argwhere(bad)[0])
                raise DitherlabValueError(
                    f"weight_map must be finite and >= 0; element {pos} is {weight_map[pos]}"
                )
        if self._out_shape is not None and tuple(operator.out_shape) != self._out_shape:
            raise DitherlabValueError(
                f"operator out_shape {operator.out_shape} differs from the output {self._out_shape}"
            )
        state = self._state()
        gate = _MergeGate()
        try:
            if self._out_shape is None:
                self._alloc(operator.out_shape, None, None, None)
            ctx = self._next_ctx()
            self._texptime += exptime
            operator._apply(
                self._out_img.reshape(-1),
                self._out_wht.reshape(-1),
                None if ctx is None else self._out_ctx[ctx[0]].reshape(-1),
                None if ctx is None else np.uint32(1 << ctx[1]).view(np.int32),
                self._fill,
                data,
                weight_map,
                wht_scale,
                iscale,
                exptime if in_units == "counts" else 1.0,
                min(2, os.cpu_count() or 1) if self._n_threads is None else self._n_threads,
                gate,
            )
            self._apply_pending_fill(gate)
        except BaseException as exc:
            self._failed(state, gate, exc)
            raise
        return operator.nmiss, operator.nskip

    # ..................................................................
    def _drizzle(
        self, data, dscale, pixmap, weight_map, wscale, pixfrac, s, box, ctx, finite, gate
    ):
        out_shape = self._out_shape
        bbox = _shrink_to_valid(pixmap, box, finite)
        if bbox is None:
            warnings.warn(
                "pixmap has too few finite values in the input section; nothing was added",
                DitherlabWarning,
                stacklevel=3,
            )
            return 0, box[3] - box[2] + 1
        y_first, x1, x2 = scan_limits(pixmap, out_shape, bbox)
        rows = y_first + np.arange(x1.size)
        keep = (x2 >= x1) & (rows >= bbox[2]) & (rows <= bbox[3])
        rows, x1, x2 = rows[keep], x1[keep], x2[keep]
        nskip = (box[3] - box[2] + 1) - rows.size
        if rows.size == 0:
            return 0, nskip
        plane = None if ctx is None else self._out_ctx[ctx[0]]
        bit = None if ctx is None else np.uint32(1 << ctx[1]).view(np.int32)
        _raise_malloc_thresholds()
        signed = self._kernel in ("lanczos2", "lanczos3")
        chunks = _tiles(
            rows,
            x1,
            x2,
            _cells(self._kernel, pixfrac, s),
            (
                min(_SQUARE_TILE_PIXELS, 4 * _CHUNK_CONTRIBUTIONS / _cells("square", pixfrac, s))
                if self._kernel == "square" and _SQUARE_TILE_PIXELS is not None
                else None
            ),
        )

        fast = self._kernel in ("point", "turbo")

        args = (pixmap, data, weight_map, dscale, wscale, rows, x1, x2)

        def work(chunk):
            tail = (chunk, out_shape, pixfrac, s)
            if fast:
                res = _fast_chunk(self._kernel, *args, *tail)
                if res is not None:
                    return res
            return _chunk_sums(self._kernel, *args, *tail, self._legacy, signed)

        img = self._out_img
        wht = self._out_wht
        ctxf = plane
        contributed = 0

        # "out_img == fill wherever out_wht == 0" holds unless a caller's out_img has not had
        # its fill yet (or is never filled): then the merge takes the masked, safe path
        trusted = self._fill is not None and not self._fill_pending

        def merge(img, wht, ctx, bit, *res):
            if isinstance(res[0], str):
                _merge_direct(
                    img.reshape(-1),
                    wht.reshape(-1),
                    None if ctx is None else ctx.reshape(-1),
                    bit,
                    *res[1:],
                )
            else:
                _merge_box(img, wht, ctx, bit, *res, fill=self._fill, trusted=trusted)

        nthreads = self._n_threads
        if nthreads is None:
            big = float(np.sum(x2 - x1 + 1)) >= _THREADS_MIN_PIXELS
            nthreads = min(2, os.cpu_count() or 1) if big else 1
        if len(chunks) == 1:
            nthreads = 1
        task = _buffered(work, nthreads)

        def take(res):
            nonlocal contributed
            res, nhit = res
            contributed += nhit
            if res is not None:
                gate.enter()
                merge(img, wht, ctxf, bit, *res)

        if nthreads == 1:
            for ch in chunks:
                take(task(ch))
            return contributed, nskip
        if not fast and _fork_workers(nthreads, len(chunks)):
            if self._kernel == "gaussian" and not self._legacy:
                import scipy.special  # noqa: F401  (once here, not in every worker)
            # slot size from the pixmap's own scale too: square users often leave
            # pixel_scale_ratio at 1 (it only sizes the other kernels)
            try:
                s_box = min(s, estimate_pixel_scale_ratio(pixmap))
            except DitherlabValueError:
                s_box = s
            cap = _slot_capacity(
                chunks, s_box, _cells(self._kernel, pixfrac, s), out_shape[0] * out_shape[1]
            )
            # outputs the workers never read (all but self-referential calls): their pages
            # are dropped in the workers, so that merging does not copy them
            inputs = [a for a in (pixmap, data, weight_map) if a is not None]
            outs = [
                o
                for o in (img, wht, self._out_ctx)
                if o is not None and not any(np.may_share_memory(o, a) for a in inputs)
            ]
            _forked_tiles(work, chunks, nthreads, take, cap, outs)
            return contributed, nskip
        # The calling thread computes tiles too, next to n_threads - 1 pool workers, and
        # merges: a third thread contending for the GIL made two threads no faster than one
        # on short tiles.  Tiles are merged in order (the output does not depend on timing)
        # and at most n_threads + 1 computed tiles wait for their merge (bounded memory).
        # One more tile than workers is queued, so a worker never waits for the caller; the
        # process-wide pool may have more workers than this call's n_threads - 1, so a
        # semaphore keeps the rest of the queued tiles waiting.
        running = threading.Semaphore(nthreads - 1)

        def pooled(ch):
            with running:
                return task(ch)

        nflight = nthreads + 1
        n = len(chunks)
        futs: dict[int, Any] = {}
        here: dict[int, Any] = {}
        nxt = 0
        try:
            for k in range(n):
                while True:
                    while nxt < n and len(futs) < nthreads and len(futs) + len(here) < nflight:
                        futs[nxt] = _submit(nthreads - 1, pooled, chunks[nxt])
                        nxt += 1
                    if k in here:
                        res = here.pop(k)
                        break
                    fut = futs[k]
                    if not fut.done() and nxt < n and len(futs) + len(here) < nflight:
                        here[nxt] = task(chunks[nxt])  # tile k is still running: help
                        nxt += 1
                        continue
                    res = fut.result()
                    del futs[k]
                    break
                take(res)
        finally:
            for fut in futs.values():  # an error: cancel what has not started
                fut.cancel()
            wait(list(futs.values()))
        return contributed, nskip


def _fork_workers(nthreads: int, ntiles: int) -> bool:
    """Whether to compute the tiles in forked worker processes (see :func:`_forked_tiles`)."""
    return _USE_FORK and _CAN_FORK and nthreads > 1 and ntiles >= 2 * nthreads


#: Compute the tiles of a multi-worker ``add_image`` in forked processes where possible:
#: numpy releases the GIL only inside its loops, and the GIL hand-offs around the ~500 short
#: numpy calls of a square-kernel tile held two threads to 1.05-1.2x one thread, where two
#: processes reach 1.35-1.9x.  ``DITHERLAB_DRIZZLE_FORK=0`` in the environment keeps threads.
_USE_FORK = os.environ.get("DITHERLAB_DRIZZLE_FORK", "1").strip() != "0"
_CAN_FORK = sys.platform.startswith("linux") and hasattr(os, "fork")
#: Results each worker may have waiting for their merge (slots of shared memory).
_FORK_SLOTS = 2
# Python 3.12+ warns on every fork of a process with threads; the workers run numpy code on
# their own tiles only (no locks of other threads), so not for the forks made here.
warnings.filterwarnings(
    "ignore",
    message=r".*multi-threaded, use of fork\(\) may lead to deadlocks",
    category=DeprecationWarning,
    module=r"ditherlab\.drizzle\._resample",
)


class _WorkerError(RuntimeError):
    """A forked worker failed with an exception that could not be sent, or died."""


def _slot_capacity(chunks, s: float, cells: float, nout: int) -> int:
    """Output pixels of a shared-memory result slot (see :func:`_forked_tiles`).

    A tile's output box spans its input rows and columns / ``s`` plus a kernel window
    (``cells`` output pixels); twice that for rotation and distortion, at most the output.
    A result that does not fit (e.g. an ``s`` that does not describe the pixmap) goes
    through the pipe.
    """
    side = math.sqrt(cells)
    box = max(((c[1] - c[0]) / s + side) * ((c[3] - c[2] + 1) / s + side) for c in chunks)
    return int(min(nout, 2.0 * box + 1024))


def _release_in_child(arrays) -> None:
    """In a forked worker: drop its mappings of the caller's output pages (never read there).

    Otherwise every output page the caller merges into while workers live is copied on
    write (up to the outputs' size again).  ``MADV_DONTNEED`` on the whole pages inside
    each array; it changes nothing for the caller.
    """
    import ctypes
    import mmap

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no libc: the pages are copied instead
        return
    page = mmap.PAGESIZE
    for a in arrays:
        if a is None:
            continue
        start = -(-a.ctypes.data // page) * page
        end = (a.ctypes.data + a.nbytes) // page * page
        if end > start:
            libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), 4)


def _forked_tiles(work, chunks, nproc, take, cap, outputs=()):
    """``take(work(chunk))`` for every chunk in order, with the work done in ``nproc`` forks.

    Worker ``w`` computes tiles ``w, w + nproc, ...`` in a forked copy of this process (the
    inputs are shared copy-on-write: nothing is copied up front; its mappings of the
    ``outputs`` arrays are dropped at once) and writes each tile's sums into one of its
    ``_FORK_SLOTS`` slots of a shared anonymous mapping (``cap`` output pixels each), then
    sends a short message; this process merges the tiles in order from the slots, so the
    outputs are bit for bit those of one thread, and hands the slot back.  A result that
    does not fit a slot goes through the pipe instead.  Working set: one tile per worker
    plus ``nproc · _FORK_SLOTS · 18 · cap`` bytes of slots.  An error in a worker is raised
    here (the same exception with the worker's traceback as a note, or
    :class:`_WorkerError` with it); a worker that dies is reported with its exit status;
    on any error or interrupt the workers are killed.  SIGINT and SIGALRM are held back
    while workers are forked and while they are reaped, so they are always reaped.
    """
    import mmap
    import multiprocessing
    import pickle
    import signal
    import traceback

    slot_bytes = 18 * cap
    shm = mmap.mmap(-1, max(1, nproc * _FORK_SLOTS * slot_bytes))  # MAP_SHARED | ANONYMOUS

    def views(w, j):
        o = (w * _FORK_SLOTS + j % _FORK_SLOTS) * slot_bytes
        buf = np.frombuffer(shm, np.uint8, slot_bytes, o)
        return (
            buf[: 8 * cap].view(np.float64),
            buf[8 * cap : 16 * cap].view(np.float64),
            buf[16 * cap : 17 * cap].view(np.bool_),
            buf[17 * cap :].view(np.bool_),
        )

    def worker(w, out, acks):
        _release_in_child(outputs)
        _SCRATCH.bufs = {}
        for j, k in enumerate(range(w, len(chunks), nproc)):
            try:
                res, nhit = work(chunks[k])
            except BaseException as exc:
                tb = traceback.format_exc()
                try:
                    pickle.loads(pickle.dumps(exc))
                except Exception:
                    exc = _WorkerError(f"drizzle worker process failed:\n{tb}")
                out.send((k, "error", (exc, tb)))
                return
            if j >= _FORK_SLOTS:
                acks.recv_bytes()  # tile j - _FORK_SLOTS (this slot's last user) is merged
            if res is not None and not isinstance(res[0], str) and res[1].size <= cap:
                box, sw, swd, pos, touched = res
                n = sw.size
                vsw, vswd, vpos, vtouched = views(w, j)
                vsw[:n], vswd[:n], vpos[:n] = sw, swd, pos
                signed = pos is not touched
                if signed:
                    vtouched[:n] = touched
                out.send((k, "slot", (box, n, signed, nhit)))
            else:
                out.send((k, "pipe", (res, nhit)))

    hold = {signal.SIGINT, signal.SIGALRM}  # (KeyboardInterrupt, timeouts)
    readers, ackers, pids, reaped = [], [], [], set()
    done = False
    try:
        for w in range(nproc):
            r, wr = multiprocessing.Pipe(duplex=False)
            readers.append(r)
            ar, aw = multiprocessing.Pipe(duplex=False)
            ackers.append(aw)
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, hold)
            try:
                pid = os.fork()
                if pid == 0:  # the worker (SIGINT stays held: the caller kills it)
                    code = 0
                    try:
                        for c in (*readers, *ackers):
                            c.close()
                        worker(w, wr, ar)
                    except BaseException:
                        code = 1
                    finally:
                        os._exit(code)
                pids.append(pid)
            finally:
                wr.close()
                ar.close()
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for k in range(len(chunks)):
            w = k % nproc
            try:
                kk, kind, payload = readers[w].recv()
            except EOFError:
                _, status = os.waitpid(pids[w], 0)
                reaped.add(pids[w])
                code = os.waitstatus_to_exitcode(status)
                how = f"was killed by signal {-code}" if code < 0 else f"exited ({code})"
                raise _WorkerError(
                    f"drizzle worker process {pids[w]} {how} before sending tile {k}"
                ) from None
            if kind == "error":
                exc, tb = payload
                exc.add_note(f"(raised in drizzle worker process {pids[w]}:\n{tb})")
                raise exc
            if kk != k:  # pragma: no cover - the protocol sends tiles in order
                raise RuntimeError(f"worker sent tile {kk}, expected {k}")
            if kind == "pipe":
                take(payload)
            else:
                box, n, signed, nhit = payload
                vsw, vswd, vpos, vtouched = views(w, k // nproc)
                pos = vpos[:n]
                take(((box, vsw[:n], vswd[:n], pos, vtouched[:n] if signed else pos), nhit))
                del vsw, vswd, vpos, vtouched, pos
            # the worker reads one ack per tile from its _FORK_SLOTS-th on, whatever its kind;
            # one that has failed or died is gone (its error or end is read next, in order)
            if k + nproc * _FORK_SLOTS < len(chunks):
                with contextlib.suppress(OSError):
                    ackers[w].send_bytes(b"")
        done = True
    finally:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, hold)
        try:
            for c in readers + ackers:
                c.close()
            for pid in pids:
                if pid in reaped:
                    continue
                if not done:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        with contextlib.suppress(BufferError):  # views still referenced (an error's frames)
            shm.close()  # else the mapping goes with the last view


_SCRATCH = threading.local()
#: The process-wide worker pool (see :func:`_submit`), its size, and the lock guarding both.
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _forget_pool_after_fork() -> None:
    """A forked child has none of the parent's pool threads: start afresh there."""
    global _POOL, _POOL_SIZE, _POOL_LOCK
    _POOL, _POOL_SIZE = None, 0
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _buffered(fn, n_tasks: int):
    """``fn`` wrapped so that each call holds one of ``n_tasks`` sets of work buffers.

    The sets (see :func:`_scratch`) belong to the wrapper, so they live as long as the
    caller keeps it (one drizzle call); at most ``n_tasks`` calls run at once (a further
    call waits for a set).
    """
    buffers = queue.SimpleQueue()
    for _ in range(n_tasks):
        buffers.put({})

    def call(arg):
        bufs = buffers.get()
        _SCRATCH.bufs = bufs
        try:
            return fn(arg)
        finally:
            _SCRATCH.bufs = None
            buffers.put(bufs)

    return call


def _submit(n_workers: int, fn, arg):
    """Run ``fn(arg)`` on the process-wide pool, which has at least ``n_workers`` workers.

    One pool serves every call (starting threads costs ~1 ms a call); it is replaced by a
    larger one when a call asks for more workers than it has.  The old pool is shut down
    without waiting: tasks already given to it still run, then its threads end.  Submitting
    under the lock means no call can submit to a pool that was just shut down.  A call must
    bound how many of its tasks run at once itself (the pool may be larger than it asked).
    At interpreter exit ``concurrent.futures`` joins the workers, which are idle by then.
    """
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or n_workers > _POOL_SIZE:
            old = _POOL
            _POOL = ThreadPoolExecutor(n_workers, thread_name_prefix="ditherlab-drizzle")
            _POOL_SIZE = n_workers
            if old is not None:
                old.shutdown(wait=False)
        return _POOL.submit(fn, arg)


class _AddAbandoned(Exception):  # an internal signal, never reaches a caller
    """A task of an add that was given up tried to merge (see :class:`_MergeGate`)."""


class _MergeGate:
    """Records whether an add has started merging into the outputs, and stops it doing so.

    Every merge into ``out_img``/``out_wht``/``out_ctx`` calls :meth:`enter` first; when the
    add fails, :meth:`close` tells whether any merge started (the outputs may then hold part
    of the image) and makes later :meth:`enter` calls raise, so that pool tasks still running
    cannot start merging after the failure was handled.
    """

    __slots__ = ("_closed", "_lock", "merged")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self.merged = False

    def enter(self) -> None:
        with self._lock:
            if self._closed:
                raise _AddAbandoned
            self.merged = True

    def close(self) -> bool:
        with self._lock:
            self._closed = True
            return self.merged


def _raise_malloc_thresholds() -> None:
    """Let the C allocator keep freed chunk temporaries instead of unmapping them.

    glibc maps every block above its mmap threshold (128 KiB at start) afresh and returns
    freed memory above its trim threshold to the system, so the per-chunk temporaries here
    (hundreds of KiB each) cost a page fault per 4 KiB page on every chunk: ~700 000
    faults and +60 % wall time for one 2048x4096 chip.  Freeing one large mapped block
    makes glibc raise both thresholds to its size (blocks above 32 MiB are ignored), the
    same thing any program does when it frees a large array.  Elsewhere this is a no-op.
    """
    block = np.empty(1 << 21)  # 16 MiB, never touched
    del block


def _scratch(name: str, size: int, dtype) -> np.ndarray:
    """A work buffer of at least ``size`` elements, reused across the blocks of one call.

    Fresh multi-MiB temporaries cost a page fault per 4 KiB page on every block (about as
    much as the arithmetic that fills them), so the big per-block arrays are kept in the
    buffer set the running task holds (see ``Drizzle._drizzle``).
    """
    bufs = getattr(_SCRATCH, "bufs", None)
    if bufs is None:  # called outside a drizzle task: a throw-away buffer
        return np.empty(max(size, 1), dtype)[:size]
    buf = bufs.get(name)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = bufs[name] = np.empty(max(size, 1), dtype)
    return buf[:size]


def _copy_to(buf, a):
    """``a`` (any strides) copied into the flat work buffer ``buf`` of its size; returns it."""
    np.copyto(buf.reshape(a.shape), a)
    return buf


def _cells(kernel: str, pixfrac: float, s: float) -> float:
    """Rough number of output pixels one input pixel touches (sizes the chunks)."""
    if kernel == "point":
        return 1.0
    if kernel in ("square", "turbo", "tophat"):
        return (pixfrac / s + 1.0) ** 2
    if kernel == "gaussian":
        return (2 * max(2.5 * pixfrac / 2.3548 / s, 1.2 / s) + 1.0) ** 2
    order = 2 if kernel == "lanczos2" else 3
    return (2 * order / s + 1.0) ** 2


def _row_chunks(rows, x1, x2, cells):
    """Split the processed rows into consecutive blocks of bounded working set."""
    width = int(x2.max() - x1.min() + 1)
    # at least 16 rows (while under 4x the budget): fewer, taller blocks waste less of each
    # merge on the output rows that a rotated block only partly covers
    per = max(1, int(_CHUNK_CONTRIBUTIONS / (cells * width)))
    per = max(per, min(16, int(4 * _CHUNK_CONTRIBUTIONS / (cells * width))))
    return [(a, min(a + per, rows.size)) for a in range(0, rows.size, per)]


def _tiles(rows, x1, x2, cells, pixels=None):
    """Split the processed pixels into tiles: runs of scan rows × ranges of columns.

    A tile holds about ``_CHUNK_CONTRIBUTIONS`` kernel contributions (the working-set
    bound) and is roughly square, so that its output box, which the sums and the merge
    cover in full, is barely larger than what it touches even when the image is rotated
    or distorted: a full-width strip of a 2048-column chip rotated by 0.3° spans 11 more
    output rows than it has input rows.  ``pixels`` fixes the input pixels of a tile
    instead: the square kernel's per-drop arithmetic wants ~32k drops per tile whatever
    the window size (fewer, longer numpy calls; its working set is per drop).  Small
    images are cut into at least ~8 tiles (of at least 2¹⁵ contributions), so that the
    working set stays small next to them.
    """
    lo, hi = int(x1.min()), int(x2.max())
    width = hi - lo + 1
    if pixels is None:
        total = float(np.sum(x2 - x1 + 1)) * cells
        budget = min(_CHUNK_CONTRIBUTIONS, max(_MIN_TILE_CONTRIBUTIONS, total / 8))
        pixels = budget / cells
    npix = max(1.0, pixels)
    side = max(32, int(math.sqrt(npix)))
    ncol = max(1, round(width / side))
    cw = -(-width // ncol)
    per = max(1, int(npix // cw))
    return [
        (a, min(a + per, rows.size), c, min(c + cw - 1, hi))
        for a in range(0, rows.size, per)
        for c in range(lo, hi + 1, cw)
    ]


def _fast_chunk(
    kernel, pixmap, data, weight_map, dscale, wscale, rows, x1, x2, chunk, out_shape, pixfrac, s
):
    """:func:`_chunk_sums` for point and turbo on a "clean" tile, else None.

    Clean: every row of the tile is processed over the same columns, the pixmap and data
    are finite and every kernel window lies inside the output -- the common case, where
    the masks of the general path are all-true and can be skipped.  Returns the same
    result as :func:`_chunk_sums`.
    """
    a_, b_ = chunk[:2]
    r, lo, hi = rows[a_:b_], x1[a_:b_], x2[a_:b_]
    if len(chunk) == 4:
        lo = np.maximum(lo, chunk[2])
        hi = np.minimum(hi, chunk[3])
    ja, jb = int(r[0]), int(r[-1]) + 1
    xa, xb = int(lo[0]), int(hi[0])
    if xb < xa or jb - ja != r.size or np.any(lo != xa) or np.any(hi != xb):
        return None
    out_ny, out_nx = out_shape
    xc = pixmap[ja:jb, xa : xb + 1, 0]
    yc = pixmap[ja:jb, xa : xb + 1, 1]
    d = data[ja:jb, xa : xb + 1]
    if not math.isfinite(d.sum(dtype=np.float64)):
        return None
    half = 0.0 if kernel == "point" else pixfrac / float(np.float32(s)) / 2.0
    # contiguous copies of the centres: reductions over the strided pixmap cost ~4x more
    m = d.size
    xc = _copy_to(_scratch("f_x", m, np.float64), xc)
    yc = _copy_to(_scratch("f_y", m, np.float64), yc)
    xmn, xmx, ymn, ymx = float(xc.min()), float(xc.max()), float(yc.min()), float(yc.max())
    # window pixels round(c - half) .. round(c + half), padded by one to a common size,
    # must lie in the output (NaN fails these tests)
    if not (xmn - half >= 0.0 and ymn - half >= 0.0):
        return None
    if not (xmx + half < out_nx - 1.5 and ymx + half < out_ny - 1.5):
        return None
    if kernel == "point":
        # output pixel floor(c + 0.5), monotonic in c: the box follows from the extremes
        c0, r0 = math.floor(xmn + 0.5), math.floor(ymn + 0.5)
        bw = math.floor(xmx + 0.5) + 1 - c0
        box = (r0, math.floor(ymx + 0.5) + 1, c0, c0 + bw)
        nbox = (box[1] - r0) * bw
        for c in (xc, yc):
            c += 0.5
            np.floor(c, out=c)
        # flat box index in float64 (integers, exact) and one conversion
        t = np.multiply(yc, bw, out=_scratch("p_t", m, np.float64))
        t += xc
        t -= r0 * bw + c0
        dst = _scratch("p_dst", m, np.intp)
        np.copyto(dst, t, casting="unsafe")
        cnt = np.bincount(dst, minlength=nbox)
        if nbox > 2 * m and cnt.max() <= 1:
            # one input pixel per output pixel (a finer output grid): no sums needed, the
            # values go straight to their pixels (see _merge_direct)
            w = None if weight_map is None else weight_map[ja:jb, xa : xb + 1].ravel() * wscale
            flat = np.multiply(yc, out_nx)  # a new array: work buffers go back to the pool
            flat += xc
            return ("direct", flat.astype(np.intp), w, wscale, d.ravel(), dscale), m
        if weight_map is None:
            sw = cnt * float(wscale)
            dd = _copy_to(_scratch("p_d", m, np.float64), d)  # bincount wants float64
            swd = np.bincount(dst, weights=dd, minlength=nbox)
            swd *= float(wscale) * float(dscale)
            pos = touched = cnt > 0
        else:
            w = weight_map[ja:jb, xa : xb + 1].ravel() * wscale
            w = w.astype(np.float64)
            sw = np.bincount(dst, weights=w, minlength=nbox)
            w *= d.ravel()
            w *= float(dscale)
            swd = np.bincount(dst, weights=w, minlength=nbox)
            pos = touched = sw > _F32_TINY  # weights that round to 0 in float32 do not count
        return (box, sw, swd, pos, touched), m
    # turbo: separable box of half-width `half` output pixels, weights normalised to 1
    x0 = np.floor(xc - half + 0.5)
    y0 = np.floor(yc - half + 0.5)
    if 2.0 * half <= 1.0:  # round(c + 2 h) <= round(c + 1) = round(c) + 1: two pixels
        gx = gy = 2
    else:
        x1w = np.floor(xc + half + 0.5)
        y1w = np.floor(yc + half + 0.5)
        gx = int((x1w - x0).max()) + 1
        gy = int((y1w - y0).max()) + 1
    norm = 1.0 / (4.0 * half * half)
    if weight_map is None:
        w = float(wscale) * norm
    else:
        w = weight_map[ja:jb, xa : xb + 1].ravel() * wscale
        w = w.astype(np.float64)
        w *= norm
    c0, r0 = int(x0.min()), int(y0.min())
    bw = int(x0.max()) + gx - c0
    box = (r0, int(y0.max()) + gy, c0, c0 + bw)
    nbox = (box[1] - r0) * bw
    base = y0 - r0
    base *= bw
    base += x0
    base -= c0
    base = base.astype(np.intp)
    total = gx * gy * m
    dst_all = _scratch("dst", total, np.intp)
    dow_all = _scratch("dow", total, np.float64)
    dd = d.ravel().astype(np.float64)
    dd *= float(dscale)
    if gx <= 2 and gy <= 2:
        # at most two pixels a side (pixfrac <= s): the box [c - half, c + half] is cut by
        # the pixel edge e = c0 + 0.5 only; same float operations as the general loop below
        wxs = []
        for c, c0_, g, dest in ((xc, x0, gx, wxs), (yc, y0, gy, None)):
            e = c0_ + 0.5
            hi_ = c + half
            v = np.minimum(hi_, e)
            v -= c - half
            out = [v]
            if g == 2:
                np.subtract(hi_, e, out=hi_)
                np.maximum(hi_, 0.0, out=hi_)
                out.append(hi_)
            if dest is None:
                wys = out
                if not (np.isscalar(w) and w == 1.0):
                    for v in wys:
                        v *= w
            else:
                dest.extend(out)
        np.multiply(
            np.stack(wys)[:, None, :], np.stack(wxs)[None, :, :], out=dow_all.reshape(gy, gx, m)
        )
    else:
        # 1-D overlaps of the box [c - half, c + half] with the window pixels, all at once
        # (few, long numpy calls: the workers share the GIL with the merging thread)
        def overlaps(c, c0_, c1w, g, full):
            if full and g >= 3:
                # every window is exactly g pixels: the box [c - h, c + h] starts in the
                # first, ends in the last and covers the ones between; the same float
                # operations as the general formula below, without the (g, m) min/max
                v = np.empty((g, c.size))
                first = c0_ - 0.5  # left edge of the first pixel, then its right edge
                first += 1.0
                np.subtract(first, c - half, out=v[0])
                v[1:-1] = 1.0
                np.subtract(c + half, c0_ + (g - 1.5), out=v[-1])  # from the last left edge
                return v
            e = c0_[None, :] + (np.arange(g) - 0.5)[:, None]  # left edges, (g, m)
            v = np.minimum(c + half, e + 1.0)
            v -= np.maximum(c - half, e)
            np.maximum(v, 0.0, out=v)
            if not full:  # pixels beyond the drop's own window (padding)
                v *= e <= (c1w - 0.5)[None, :]
            return v

        # when 2 h is an integer every window has the full size: no padding to zero
        wx = overlaps(xc, x0, x1w, gx, bool((x1w - x0).min() == gx - 1))
        wy = overlaps(yc, y0, y1w, gy, bool((y1w - y0).min() == gy - 1))
        wy *= w
        np.multiply(wy[:, None, :], wx[None, :, :], out=dow_all.reshape(gy, gx, m))
    offs = (np.arange(gy)[:, None] * bw + np.arange(gx)[None, :]).reshape(-1, 1)
    np.add(base, offs, out=dst_all.reshape(gy * gx, m))
    sw = np.bincount(dst_all, weights=dow_all, minlength=nbox)
    dow2 = dow_all.reshape(gx * gy, m)
    dow2 *= dd
    swd = np.bincount(dst_all, weights=dow_all, minlength=nbox)
    pos = touched = sw > _F32_TINY  # weights that round to 0 in float32 do not count
    return (box, sw, swd, pos, touched), m


def _chunk_sums(
    kernel,
    pixmap,
    data,
    weight_map,
    dscale,
    wscale,
    rows,
    x1,
    x2,
    chunk,
    out_shape,
    pixfrac,
    s,
    legacy,
    signed,
):
    """Σ a·w and Σ a·w·d of one tile of input pixels, on a box of the output.

    Returns ``((r0, r1, c0, c1), sw, swd, pos, touched), nhit``: the sums are raveled
    over ``out[r0:r1, c0:c1]`` (None when nothing lands in the output) and ``nhit``
    counts the tile's pixels that reached the output.
    """
    geom = _block_geometry(rows, x1, x2, chunk)
    if geom is None:
        return None, 0
    ja, jb, xa, xb, _, processed = geom
    pieces, valid = block_pieces(
        kernel, pixmap, ja, jb, xa, xb, pixfrac=pixfrac, pscale_ratio=s, legacy=legacy
    )
    d = data[ja:jb, xa : xb + 1].ravel()
    if weight_map is None:
        w = np.full(d.size, wscale, np.float32)
    else:
        w = weight_map[ja:jb, xa : xb + 1].ravel() * wscale
    good = np.isfinite(d)
    if not good.all():
        d = np.where(good, d, np.float32(0))
        w = np.where(good, w, np.float32(0))
    if not processed.all():
        w = np.where(processed, w, np.float32(0))
    w = w.astype(np.float64)
    d = d.astype(np.float64) * float(dscale)
    out_ny, out_nx = out_shape
    normalised = not legacy or kernel in ("square", "turbo", "point")
    # the output box: every window pixel of the tile, clipped to the output
    r0b = c0b = math.inf
    r1b = c1b = -math.inf
    for _, c0, r0, a in pieces:
        gy, gx, m = a.shape
        if m:
            r0b, r1b = min(r0b, int(r0.min())), max(r1b, int(r0.max()) + gy)
            c0b, c1b = min(c0b, int(c0.min())), max(c1b, int(c0.max()) + gx)
    r0b, c0b, r1b, c1b = max(r0b, 0), max(c0b, 0), min(r1b, out_ny), min(c1b, out_nx)
    if r1b <= r0b or c1b <= c0b:
        return None, 0
    bw = c1b - c0b
    nbox = (r1b - r0b) * bw  # window pixels outside the output go to bin nbox (dropped)
    hit = np.zeros(d.size, bool)
    total = sum(a.shape[0] * a.shape[1] * a.shape[2] for _, _, _, a in pieces)
    dst_all = np.empty(total, np.intp)
    dow_all = np.empty(total, np.float64)
    # a·w·d is formed in place of a·w once Σ a·w is summed (one buffer fewer): the
    # (slice of dow_all, data) of each run of entries
    scale_later = []
    pos0 = 0
    for sel, c0, r0, a in pieces:
        gy, gx, m = a.shape
        if m == 0:
            continue
        ws = w if sel is None else w[sel]
        ds = d if sel is None else d[sel]
        base = (r0 - r0b) * bw + (c0 - c0b)
        cmin, cmax, rmin, rmax = int(c0.min()), int(c0.max()), int(r0.min()), int(r0.max())
        all_in = cmin >= 0 and cmax + gx <= out_nx and rmin >= 0 and rmax + gy <= out_ny
        hsel = None if all_in and normalised else np.zeros(m, bool)
        if all_in:  # every window pixel is in the output: all cells in three calls
            k = gy * gx * m
            a2 = a.reshape(gy * gx, m)
            dow = dow_all[pos0 : pos0 + k].reshape(gy * gx, m)
            np.multiply(a2, ws, out=dow)
            offs = (np.arange(gy)[:, None] * bw + np.arange(gx)[None, :]).reshape(-1, 1)
            np.add(base, offs, out=dst_all[pos0 : pos0 + k].reshape(gy * gx, m))
            scale_later.append((dow, ds))
            pos0 += k
            if hsel is not None:
                hsel |= (a2 != 0).any(axis=0)
            hit[slice(None) if sel is None else sel] |= True if hsel is None else hsel
            continue
        for q in range(gy):
            for p in range(gx):
                sl = slice(pos0, pos0 + m)
                pos0 += m
                ac = a[q, p]
                dow = dow_all[sl]
                dst = dst_all[sl]
                np.multiply(ac, ws, out=dow)
                np.add(base, q * bw + p, out=dst)
                if not all_in:
                    ins = (c0 + p >= 0) & (c0 + p < out_nx) & (r0 + q >= 0) & (r0 + q < out_ny)
                    out = ~ins
                    dow[out] = 0.0
                    dst[out] = nbox
                    hsel |= (ac != 0) & ins
                elif hsel is not None:
                    hsel |= ac != 0
                scale_later.append((dow, ds))
        if hsel is None:
            hsel = True
        if sel is None:
            hit |= hsel
        else:
            hit[sel] |= hsel
    nhit = int(np.count_nonzero(hit & processed & valid))
    dow = dow_all[:pos0]
    rel = dst_all[:pos0]
    sw = np.bincount(rel, weights=dow, minlength=nbox + 1)[:nbox]
    if signed:
        pos = np.bincount(rel, weights=(dow > 0), minlength=nbox + 1)[:nbox] > 0
        touched = np.bincount(rel, minlength=nbox + 1)[:nbox] > 0
    else:
        pos = touched = sw > _F32_TINY  # weights that round to 0 in float32 do not count
    for v, ds in scale_later:
        v *= ds  # a·w·d
    swd = np.bincount(rel, weights=dow, minlength=nbox + 1)[:nbox]
    return ((r0b, r1b, c0b, c1b), sw, swd, pos, touched), nhit


def _merge_direct(img, wht, ctxf, bit, dst, w, wscale, d, dscale):
    """Merge point-kernel values that land on distinct output pixels ``dst``.

    ``w`` is the float32 weight of each value (None: all ``wscale``); zero weights do not
    touch the output (as in :func:`_merge`).
    """
    if w is not None:
        nz = w > 0
        if not nz.all():
            dst, w, d = dst[nz], w[nz], d[nz]
    W = wht[dst]
    if not W.any():  # nothing there yet: the mean is the value itself
        img[dst] = d.astype(np.float64) * float(dscale)
        wht[dst] = wscale if w is None else w
    else:
        sw = np.full(dst.size, float(wscale)) if w is None else w.astype(np.float64)
        Im = img[dst]
        val = np.multiply(np.where(W != 0, Im, np.float32(0)), W, dtype=np.float64)
        val += sw * (d.astype(np.float64) * float(dscale))
        new_w = np.add(W, sw)
        val /= new_w
        img[dst] = val
        wht[dst] = new_w
    if ctxf is not None:
        ctxf[dst] |= bit


def _merge(img, wht, ctxf, bit, lo, sw, swd, pos, touched, fill=None):
    """Fold one block's sums of a signed kernel (lanczos) into the float32 outputs.

    ``img``, ``wht`` are the flat outputs, ``ctxf`` the flat context plane (or None); the
    sums cover output pixels ``lo : lo + sw.size``.  ``pos`` marks the pixels with a
    positive contribution (they get the context bit), ``touched`` those with any.  Weighted
    mean as the C update; a touched pixel's weight can sum back to zero: it gets ``fill``
    (None: left as it is), so that ``img == fill`` wherever ``wht == 0`` stays true, and
    values that overflow are not written.  A sparsely touched block (e.g. one spanning
    empty output rows) is merged by index, others with plain full-range passes: ufuncs
    with ``where=`` are several times slower than a pass here.  (The non-negative kernels
    go to :func:`_merge_dense`.)
    """
    n = sw.size
    idx = None
    if np.count_nonzero(touched) < n // 4:  # sparse
        idx = np.flatnonzero(touched)
        sw, swd, pos = sw[idx], swd[idx], pos[idx]
        sl = idx + lo
        W, Im = wht[sl], img[sl]
    else:
        W, Im = wht[lo : lo + n], img[lo : lo + n]
    # old contribution Im*W, zero where W == 0 (Im may hold the fill value, e.g. NaN)
    val = np.multiply(np.where(W != 0, Im, np.float32(0)), W, dtype=np.float64)
    val += swd
    new_w = np.add(W, sw)  # float64
    den = np.where(new_w == 0, 1.0, new_w)
    np.divide(val, den, out=val)
    upd = (new_w != 0) & np.isfinite(val)
    if idx is None:
        upd &= touched
    if fill is not None:
        zero = new_w.astype(np.float32) == 0
        if idx is None:
            zero &= touched
        val[zero] = fill
        upd |= zero
    if idx is None:
        np.copyto(Im, val.astype(np.float32), where=upd)
        np.copyto(W, new_w, casting="same_kind")
        if ctxf is not None:
            C = ctxf[lo : lo + n]
            t = pos.astype(np.int32)
            t *= bit
            C |= t
    else:
        img[sl[upd]] = val[upd]
        wht[sl] = new_w
        if ctxf is not None:
            ctxf[sl[pos]] |= bit


def _merge_dense(Im, W, ctxf, bit, lo, sw, swd, touched=None):
    """The update of :func:`_merge` for a non-negative kernel on a range of output pixels.

    ``Im``, ``W`` are the range's float32 views of ``out_img``, ``out_wht``; ``ctxf`` the
    whole flat context plane (or None), ``lo`` the range's first pixel.  ``touched``
    (``sw > _F32_TINY``: weights that round to 0 in float32 do not touch a pixel, as in
    ``add_image``) is computed when not given.  Same arithmetic as :func:`_merge`
    (``(Im·W + swd) / (W + sw)`` in float64, the products of two float32 exact), but in
    same-dtype passes over reused work buffers, with the few pixels where that
    formula does not apply fixed up by index instead of masked passes over the range.
    Where a pixel has weight (``W > 0``) and no contribution (``sw == swd == 0``) the
    formula gives ``Im·W / W == Im`` exactly, so only pixels without weight need care: a
    contributed one gets ``swd / sw`` (``Im`` may hold the fill value, e.g. NaN), the others
    keep ``Im``.
    """
    n = sw.size
    if touched is None:
        touched = np.greater(sw, _F32_TINY, out=_scratch("m_t", n, np.bool_))
    nt = np.count_nonzero(touched)
    if nt == 0 and not sw.any():  # (weights below _F32_TINY still add to W, as in add_image)
        return
    empty = np.equal(W, 0, out=_scratch("m_z", n, np.bool_))
    nempty = np.count_nonzero(empty)
    val = _scratch("m_val", n, np.float64)
    fix = mask = None
    if nempty == n:  # no weight yet anywhere (first image): the mean is swd / sw
        new_w = sw
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(swd, sw, out=val)  # NaN where untouched: fixed below
        if 4 * (n - nt) <= n:
            fix = np.flatnonzero(~touched) if nt < n else None
        else:
            mask = touched
    else:
        new_w = _scratch("m_w", n, np.float64)
        np.copyto(new_w, W)
        np.copyto(val, Im)
        if 4 * nempty > n:
            np.putmask(val, empty, 0.0)
            mask = touched
        elif nempty:
            fix = np.flatnonzero(empty)
        val *= new_w
        val += swd
        new_w += sw
        if nempty:
            with np.errstate(invalid="ignore", divide="ignore"):
                val /= new_w  # 0/0 where no weight and no contribution: fixed below
        else:
            val /= new_w
    if fix is not None:
        t = touched[fix]
        val[fix] = np.where(t, swd[fix] / np.where(t, sw[fix], 1.0), Im[fix])
    if mask is None:
        np.copyto(Im, val, casting="same_kind")
    else:
        v32 = _scratch("m_v32", n, np.float32)
        with np.errstate(over="ignore", invalid="ignore"):  # stale values where untouched
            np.copyto(v32, val, casting="same_kind")
        np.putmask(Im, mask, v32)
    np.copyto(W, new_w, casting="same_kind")
    if ctxf is not None:
        C = ctxf[lo : lo + n]
        if nt == n:
            C |= bit
        else:
            C |= np.multiply(touched, bit, out=_scratch("m_c", n, np.int32), dtype=np.int32)


_FLT_MAX = float(np.finfo(np.float32).max)
#: Half the smallest float32 subnormal: smaller weights round to 0 in ``out_wht``.
_F32_TINY = 2.0**-150


def _merge_box(img, wht, ctx, bit, box, sw, swd, pos, touched, fill, trusted=True):
    """Fold one tile's sums into the outputs, in slabs of at most ``_MERGE_SLAB`` pixels.

    See :func:`_merge_slab`.  (Slabs of 16k pixels keep the temporaries in the L2 cache and
    are faster on one thread, but their many short numpy calls cost more in contention
    for the GIL with the worker thread than they save.)
    """
    r0, r1, c0, c1 = box
    bw = c1 - c0
    step = max(1, _MERGE_SLAB // bw)
    if r1 - r0 <= step:
        _merge_slab(img, wht, ctx, bit, box, sw, swd, pos, touched, fill, trusted)
        return
    signed = pos is not touched
    for ra in range(r0, r1, step):
        rb = min(ra + step, r1)
        sl = slice((ra - r0) * bw, (rb - r0) * bw)
        t = touched[sl]
        _merge_slab(
            img,
            wht,
            ctx,
            bit,
            (ra, rb, c0, c1),
            sw[sl],
            swd[sl],
            pos[sl] if signed else t,
            t,
            fill,
            trusted,
        )


def _merge_slab(img, wht, ctx, bit, box, sw, swd, pos, touched, fill, trusted=True):
    """Fold one tile's sums into the float32 outputs on ``box`` (weighted mean, as C).

    ``img``, ``wht``, ``ctx`` are the 2-D outputs (``ctx`` the context plane or None);
    ``sw``, ``swd``, ``pos``, ``touched`` are raveled over ``box = (r0, r1, c0, c1)``.
    ``pos is touched`` marks the non-negative kernels (``sw > 0`` exactly where touched);
    otherwise ``pos`` marks the pixels with a positive contribution (context bits).
    Relies on ``img == fill`` wherever ``wht == 0`` (kept true by every merge) and uses
    branch-free full-box passes: masked numpy operations are several times slower.
    """
    r0, r1, c0, c1 = box
    signed = pos is not touched
    Im = img[r0:r1, c0:c1]
    W = wht[r0:r1, c0:c1]
    shape = Im.shape
    sw = sw.reshape(shape)
    swd = swd.reshape(shape)
    touched = touched.reshape(shape)
    pos = touched if not signed else pos.reshape(shape)
    # With a NaN fill the untouched pixels can be written unmasked: Im·W / W == Im where
    # W > 0 and 0/0 gives NaN where W == 0 -- unless some weight sum is too small for
    # float32 (0 < sw <= 2**-150: not touched, but swd / sw would be finite there)
    nan_fill = (
        trusted
        and fill is not None
        and math.isnan(fill)
        and (signed or np.count_nonzero(sw) == np.count_nonzero(touched))
    )
    if not signed and not W.any():
        # nothing merged here yet (e.g. the first image): the mean is the tile's own; the
        # general formula below gives the same values ((Im·0 + swd) / (0 + sw)) in 4 more passes
        with np.errstate(invalid="ignore", divide="ignore"):
            val = np.divide(swd, sw)  # NaN (0/0) where untouched
        if nan_fill:
            np.copyto(Im, val, casting="same_kind")
        else:
            np.copyto(Im, val, where=touched, casting="same_kind")
        np.copyto(W, sw, casting="same_kind")
        _merge_ctx(ctx, bit, box, pos)
        return
    # old sum Im*W: 0 where W == 0 although Im holds the fill value there (NaN, ±inf)
    if trusted:
        Imf = np.fmax(Im, -_FLT_MAX)
        if fill is not None and fill > _FLT_MAX:  # +inf, or a value float32 rounds to it
            np.fmin(Imf, _FLT_MAX, out=Imf)
    else:  # a caller's out_img: anything may sit where W == 0, NaN/inf may sit elsewhere
        Imf = np.where(W != 0, Im, np.float32(0))
    val = np.multiply(Imf, W, dtype=np.float64)
    del Imf
    val += swd
    new_w = np.add(W, sw)  # float64
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(val, new_w, out=val)
    if signed:
        # weights of either sign: a touched pixel whose weight sums back to zero gets the
        # fill value; overflowing values are not written
        upd = np.isfinite(val)
        upd &= new_w != 0
        upd &= touched
        if fill is not None:
            zero = new_w.astype(np.float32) == 0
            zero &= touched
            val[zero] = fill
            upd |= zero
        np.copyto(Im, val, where=upd, casting="same_kind")
    elif nan_fill:  # untouched pixels come out unchanged (see above)
        np.copyto(Im, val, casting="same_kind")
    else:
        np.copyto(Im, val, where=touched, casting="same_kind")
    np.copyto(W, new_w, casting="same_kind")
    _merge_ctx(ctx, bit, box, pos)


def _merge_ctx(ctx, bit, box, pos):
    """Set context bit ``bit`` on the pixels of ``box`` marked in ``pos`` (2-D, the box's shape)."""
    if ctx is not None:
        r0, r1, c0, c1 = box
        C = ctx[r0:r1, c0:c1]
        C |= np.multiply(pos, bit, dtype=np.int32)


def _section(nx, ny, xmin, xmax, ymin, ymax):
    def get(name, v, default, hi):
        if v is None:
            return default
        v = as_int(name, v)
        return min(max(v, 0), hi)

    x0 = get("xmin", xmin, 0, nx - 1)
    x1 = get("xmax", xmax, nx - 1, nx - 1)
    y0 = get("ymin", ymin, 0, ny - 1)
    y1 = get("ymax", ymax, ny - 1, ny - 1)
    if x1 < x0 or y1 < y0:
        raise DitherlabValueError(
            f"empty input section: xmin={xmin!r}, xmax={xmax!r}, ymin={ymin!r}, ymax={ymax!r}"
        )
    return x0, x1, y0, y1


def _shrink_to_valid(pixmap, box, finite=False):
    """The section ``box`` shrunk to the rows and columns with a finite mapping, or None.

    ``finite``: the caller knows the whole pixmap is finite (no pass over it).
    """
    x0, x1, y0, y1 = box
    block = pixmap[y0 : y1 + 1, x0 : x1 + 1]
    if finite or np.isfinite(block.sum()):
        return box if (x1 > x0 and y1 > y0) else None
    sub = np.isfinite(block[..., 0]) & np.isfinite(block[..., 1])
    cols = np.flatnonzero(sub.any(axis=0))
    rws = np.flatnonzero(sub.any(axis=1))
    if cols.size < 2 or rws.size < 2:
        return None
    return x0 + int(cols[0]), x0 + int(cols[-1]), y0 + int(rws[0]), y0 + int(rws[-1])
