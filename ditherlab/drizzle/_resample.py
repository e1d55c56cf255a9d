"""The :class:`Drizzle` accumulator (STScI ``drizzle.resample`` interface, vectorised).

One ``add_image`` call reads top to bottom: check the arguments (:mod:`._checks`) → find
the input pixels the C scan rule processes (:mod:`._scan`) → cut them into tiles and
compute each tile's sums (:mod:`._tiles`) on one or more workers (:mod:`._parallel`) →
merge the sums into the outputs in tile order (:mod:`._merge`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from ditherlab._validation import as_choice, as_float, as_int
from ditherlab.drizzle import _merge, _parallel, _tiles
from ditherlab.drizzle._checks import (
    caller_img2,
    caller_output,
    check_output_memory,
    dq_of,
    estimate_pixel_scale_ratio,
    fill_value,
    finite_pixmap,
    pixmap_array,
    section,
    too_large,
    variances_of,
    warn_ignored_pixfrac,
    weight_map_of,
    wht_scale_of,
)
from ditherlab.drizzle._kernels import KERNELS
from ditherlab.drizzle._merge import MergeGate
from ditherlab.drizzle._operator import DrizzleOperator
from ditherlab.drizzle._scan import scan_rows
from ditherlab.errors import (
    DitherlabTypeError,
    DitherlabValueError,
    DitherlabWarning,
    DrizzleStateError,
)

__all__ = ["CTX_PLANE_BITS", "Drizzle", "estimate_pixel_scale_ratio"]

CTX_PLANE_BITS = 32


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
    fillval2 : float, str or None
        As ``fillval``, for the variance images ``out_img2``.
    out_img2 : ndarray or list of ndarray, optional
        Existing float32 variance images to continue (None entries are created), one per
        ``data2`` array of :meth:`add_image`; used in place like ``out_img``.
    out_dq : ndarray, optional
        Existing DQ image (an integer type of at most 32 bits; uint32 is used in place).

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
        fillval2: Any = None,
        out_img2: np.ndarray | list | None = None,
        out_dq: np.ndarray | None = None,
    ) -> None:
        self._kernel = as_choice("kernel", kernel, KERNELS)
        self._spoiled: str | None = None  # why the outputs hold part of an image (see _failed)
        self._legacy = bool(legacy_kernels)
        self._disable_ctx = bool(disable_ctx)
        self._texptime = as_float("exptime", exptime, minimum=0.0)
        # None: two workers where they pay (see _parallel.worker_count), else one
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
        self._fill = fill_value(fillval, out_img is not None)
        # a caller's out_img gets the fill value where out_wht == 0 at the first add (as C
        # does after every add); afterwards the merges keep "out_img == fill where
        # out_wht == 0" true, so no pass over the whole output is needed per image
        self._fill_pending = self._fill is not None and out_img is not None
        # the same for the variance images (see add_image's data2)
        self._fill2 = fill_value(fillval2, out_img2 is not None, "fillval2")
        self._fill2_pending = self._fill2 is not None and out_img2 is not None
        self._nadds = 0
        out_img, out_wht, out_ctx, shapes = self._caller_arrays(out_img, out_wht, out_ctx)
        self._out_img2, shapes2 = caller_img2(out_img2)
        self._out_dq = None if out_dq is None else dq_of("out_dq", out_dq, in_place=True)
        shapes.update(shapes2)
        if self._out_dq is not None:
            shapes["out_dq"] = self._out_dq.shape
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
            or (out_ctx is not None and np.any(out_ctx != 0))
        ):
            raise DitherlabValueError(
                "exptime=0 but out_wht/out_ctx already hold contributions; pass their exptime"
            )
        self._out_shape: tuple[int, int] | None = None
        self._out_img = self._out_wht = self._out_ctx = None
        if shapes:
            self._alloc(next(iter(shapes.values())), out_img, out_wht, out_ctx)

    def _caller_arrays(self, out_img, out_wht, out_ctx):
        """The caller's output arrays, checked, and their shapes by name."""
        shapes: dict[str, tuple[int, ...]] = {}
        if out_img is not None:
            out_img = caller_output("out_img", out_img, np.float32)
            if out_img.ndim != 2:
                raise DitherlabValueError(f"out_img must be 2-D, got shape {out_img.shape}")
            shapes["out_img"] = out_img.shape
        if out_wht is not None:
            out_wht = caller_output("out_wht", out_wht, np.float32)
            if out_wht.ndim != 2:
                raise DitherlabValueError(f"out_wht must be 2-D, got shape {out_wht.shape}")
            shapes["out_wht"] = out_wht.shape
        if out_ctx is not None and self._disable_ctx:
            out_ctx = None
        if out_ctx is not None:
            out_ctx = caller_output("out_ctx", out_ctx, np.int32)
            if out_ctx.ndim == 2:
                out_ctx = out_ctx[None]
            if out_ctx.ndim != 3:
                raise DitherlabValueError(f"out_ctx must be 2-D or 3-D, got shape {out_ctx.shape}")
            shapes["out_ctx"] = out_ctx.shape[1:]
        return out_img, out_wht, out_ctx, shapes

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
    def fillval2(self) -> float | None:
        """Fill value of ``out_img2`` pixels without contributions (None: left untouched)."""
        return self._fill2

    @property
    def out_img2(self) -> list[np.ndarray] | None:
        """Variance images (float32), one per ``data2`` array; None until one is added.

        Each holds the variance of the weighted mean ``out_img``:
        ``Σ (a·w)² · v / (Σ a·w)²`` with ``v`` the drizzled variance (``data2``).
        """
        return self._out_img2

    @property
    def out_dq(self) -> np.ndarray | None:
        """DQ image (uint32): bitwise OR of the ``dq`` of the input pixels that contributed."""
        return self._out_dq

    @property
    def total_exptime(self) -> float:
        """Total exposure time of all images added."""
        return self._texptime

    # ------------------------------------------------------------------ internals
    def _alloc(self, shape, out_img, out_wht, out_ctx):
        """Take the caller's output arrays and allocate the others, for ``shape``."""
        shape = (int(shape[0]), int(shape[1]))
        planes = 0
        if not self._disable_ctx and out_ctx is None:
            planes = self._max_ctx_id // CTX_PLANE_BITS + 1
        n2 = 0 if self._out_img2 is None else sum(a is None for a in self._out_img2)
        nbytes = 4 * ((out_wht is None) + (out_img is None) + planes + n2)
        check_output_memory(shape, nbytes, f"out_shape={shape}")
        try:
            self._out_wht = np.zeros(shape, np.float32) if out_wht is None else out_wht
            if self._disable_ctx:
                self._out_ctx = None
            elif out_ctx is None:
                self._out_ctx = np.zeros((planes, *shape), dtype=np.int32)
            else:
                self._out_ctx = out_ctx
                if out_wht is not None and np.any((out_wht > 0) != np.any(out_ctx != 0, axis=0)):
                    raise DitherlabValueError(
                        "out_wht and out_ctx disagree: pixels with context bits must have "
                        "weight > 0"
                    )
            if out_img is None:
                fill = math.nan if self._fill is None else self._fill
                self._out_img = np.full(shape, fill, dtype=np.float32)
            else:
                self._out_img = out_img
            if n2:
                self._out_img2 = [self._new_img2(shape) if a is None else a for a in self._out_img2]
        except MemoryError:
            raise too_large(shape, nbytes, f"out_shape={shape}") from None
        self._out_shape = shape

    def _new_img2(self, shape):
        """A new variance image: ``fillval2`` (NaN when it is None) everywhere."""
        return np.full(shape, math.nan if self._fill2 is None else self._fill2, np.float32)

    def _extra_outputs(self, variances, dq):
        """Create the variance images and the DQ image an add with ``data2``/``dq`` needs."""
        shape = self._out_shape
        if variances is not None and self._out_img2 is None:
            check_output_memory(shape, 4 * len(variances), f"out_img2 of shape {shape}")
            self._out_img2 = [self._new_img2(shape) for _ in variances]
        if dq is not None and self._out_dq is None:
            self._out_dq = np.zeros(shape, np.uint32)

    def _check_variance_count(self, variances) -> None:
        """``data2`` must match ``out_img2``: as many arrays at every add (as the C drizzle)."""
        n2 = None if self._out_img2 is None else len(self._out_img2)
        n = None if variances is None else len(variances)
        if n2 is None and n is not None and self._nadds > 0:
            raise DitherlabValueError(
                f"data2 with {n} array(s), but {self._nadds} image(s) were added without "
                "data2: their variance is unknown; pass data2 from the first image on"
            )
        if n2 is not None and n != n2:
            raise DitherlabValueError(
                f"data2 has {n or 0} array(s) but out_img2 has {n2}: pass one data2 array "
                "(or None) per out_img2 at every add"
            )

    def _apply_pending_fill(self, gate: MergeGate) -> None:
        if self._fill_pending:
            empty = self._out_wht == 0
            gate.enter()
            np.copyto(self._out_img, np.float32(self._fill), where=empty)
            self._fill_pending = False
        if self._fill2_pending and self._out_img2 is not None:
            empty = self._out_wht == 0
            gate.enter()
            for a in self._out_img2:
                np.copyto(a, np.float32(self._fill2), where=empty)
            self._fill2_pending = False

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
        "_out_img2",
        "_out_dq",
        "_fill2_pending",
        "_nadds",
    )

    def _state(self) -> tuple:
        """The values of :attr:`_STATE` (references: the arrays are not copied)."""
        return tuple(getattr(self, name) for name in self._STATE)

    def _failed(self, state: tuple, gate: MergeGate, exc: BaseException) -> None:
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
        *,
        data2: np.ndarray | list | None = None,
        dq: np.ndarray | None = None,
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
        data2 : array_like or list of array_like, optional
            Variance array(s) of ``data`` (squared units of ``data``), drizzled with squared
            weights into :attr:`out_img2` (one image per array) as STScI's drizzle 3.0 does:
            ``out_img2 = Σ (a·w)² · v / (Σ a·w)²``, the variance of the weighted mean
            ``out_img`` for uncorrelated input pixels.  ``v`` is scaled by ``iscale**2``
            (and divided by ``exptime**2`` when ``in_units="counts"``).  A None entry adds
            weight but no variance (as in C).  Every add must pass as many arrays as
            :attr:`out_img2` holds (the first add with ``data2`` creates them, filled with
            ``fillval2``).  Pixels whose ``data`` are NaN have zero weight and add nothing;
            a NaN variance of a pixel with weight makes the output variance NaN.
        dq : array_like of int, optional
            Data-quality bit flags (an integer type of at most 32 bits), bitwise-ORed into
            :attr:`out_dq` on every output pixel an input pixel contributes to (``a·w != 0``).

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
        wht_scale = wht_scale_of(wht_scale)
        iscale = as_float("iscale", iscale)
        in_units = as_choice("in_units", in_units, ("cps", "counts"))
        data, pixmap = _image_and_pixmap(data, pixmap)
        ny, nx = data.shape
        weight_map = weight_map_of(weight_map, data.shape)
        if pixel_scale_ratio is None:
            pixel_scale_ratio = estimate_pixel_scale_ratio(pixmap)
        pixel_scale_ratio = as_float(
            "pixel_scale_ratio", pixel_scale_ratio, minimum=0.0, min_inclusive=False
        )
        box = section(nx, ny, xmin, xmax, ymin, ymax)
        variances = variances_of(data2, data.shape)
        self._check_variance_count(variances)
        dq = None if dq is None else dq_of("dq", dq, data.shape)
        warn_ignored_pixfrac(self._kernel, pixfrac, self._legacy)

        checked = finite_pixmap(pixmap)
        finite, pixmap = checked is pixmap, checked  # (a copy when some were not finite)
        shape = _inferred_out_shape(pixmap) if self._out_shape is None else None

        state = self._state()
        gate = MergeGate()
        try:
            if shape is not None:
                self._alloc(shape, None, None, None)
            self._extra_outputs(variances, dq)
            ctx = self._next_ctx()
            self._texptime += exptime
            self._nadds += 1
            # float32 arithmetic as the C drizzle: data/exptime, then * iscale
            d32 = data.astype(np.float32, copy=False)
            if in_units == "counts" and exptime != 1.0:
                d32 = d32 * np.float32(1.0 / exptime)
            extras = None
            if variances is not None or dq is not None:
                vscale = (iscale / (exptime if in_units == "counts" else 1.0)) ** 2
                extras = (variances or (), vscale, dq)
            inputs = _Inputs(d32, np.float32(iscale), weight_map, np.float32(wht_scale), extras)
            geometry = _Geometry(pixmap, finite, box, pixfrac, pixel_scale_ratio)
            contributed, nskip = self._drizzle(inputs, geometry, ctx, gate)
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
        wht_scale = wht_scale_of(wht_scale)
        iscale = as_float("iscale", iscale)
        in_units = as_choice("in_units", in_units, ("cps", "counts"))
        if not isinstance(operator, DrizzleOperator):
            raise DitherlabTypeError(f"operator={type(operator).__name__} is not a DrizzleOperator")
        data = np.asarray(data)
        if data.shape != operator.in_shape:
            raise DitherlabValueError(
                f"data shape {data.shape} is not the operator's input shape {operator.in_shape}"
            )
        weight_map = weight_map_of(weight_map, data.shape)
        if self._out_img2 is not None:
            raise DitherlabValueError(
                f"this Drizzle propagates variance ({len(self._out_img2)} out_img2 image(s)); "
                "add_prepared does not: use add_image with data2"
            )
        if self._out_shape is not None and tuple(operator.out_shape) != self._out_shape:
            raise DitherlabValueError(
                f"operator out_shape {operator.out_shape} differs from the output {self._out_shape}"
            )
        state = self._state()
        gate = MergeGate()
        try:
            if self._out_shape is None:
                self._alloc(operator.out_shape, None, None, None)
            ctx = self._next_ctx()
            self._texptime += exptime
            self._nadds += 1
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
                _parallel.default_threads() if self._n_threads is None else self._n_threads,
                gate,
            )
            self._apply_pending_fill(gate)
        except BaseException as exc:
            self._failed(state, gate, exc)
            raise
        return operator.nmiss, operator.nskip

    # ------------------------------------------------------------------ one image
    def _drizzle(self, inputs, geometry, ctx, gate):
        """Scan → tiles → parallel map → merge of one image; ``(contributed, nskip)``."""
        g = geometry
        scan = scan_rows(g.pixmap, self._out_shape, g.box, g.finite)
        if scan is None:
            warnings.warn(
                "pixmap has too few finite values in the input section; nothing was added",
                DitherlabWarning,
                stacklevel=3,
            )
            return 0, g.box[3] - g.box[2] + 1
        rows, x1, x2, nskip = scan
        if rows.size == 0:
            return 0, nskip
        tiles = _tiles.plan_tiles(self._kernel, rows, x1, x2, g.pixfrac, g.s)
        nworkers = _parallel.worker_count(self._n_threads, float(np.sum(x2 - x1 + 1)), len(tiles))
        work = self._tile_work(inputs, g, (rows, x1, x2))
        take, contributed = self._merger(ctx, gate, inputs.extras)
        fast = self._kernel in ("point", "turbo")
        if self._kernel == "gaussian" and not self._legacy:
            import scipy.special  # noqa: F401  (once here, not in every forked worker)

        def slot_pixels():
            # slot size from the pixmap's own scale too: square users often leave
            # pixel_scale_ratio at 1 (it only sizes the other kernels)
            try:
                s_box = min(g.s, estimate_pixel_scale_ratio(g.pixmap))
            except DitherlabValueError:
                s_box = g.s
            ncells = _tiles.cells(self._kernel, g.pixfrac, g.s)
            nout = self._out_shape[0] * self._out_shape[1]
            per_pixel = 18  # Σ a·w, Σ a·w·d (float64), pos, touched (bool)
            if inputs.extras is not None:
                variances, _, dq = inputs.extras
                per_pixel += 4 * (dq is not None) + 8 * sum(v is not None for v in variances)
            return _tiles.box_pixels(tiles, s_box, ncells, nout), per_pixel

        _parallel.map_tiles(
            work,
            tiles,
            take,
            nworkers,
            processes=not fast,
            slot_pixels=slot_pixels,
            outputs=self._unread_outputs(inputs, g),
        )
        return contributed[0], nskip

    def _tile_work(self, inputs, g, scan):
        """``work(tile) -> (sums, nhit)``: the pure tile arithmetic of this image."""
        kernel, legacy = self._kernel, self._legacy
        signed = kernel in ("lanczos2", "lanczos3")
        # (the clean-tile fast paths sum data and weights only)
        fast = kernel in ("point", "turbo") and inputs.extras is None
        args = (g.pixmap, inputs.data, inputs.weight_map, inputs.dscale, inputs.wscale, *scan)
        out_shape = self._out_shape

        def work(tile):
            tail = (tile, out_shape, g.pixfrac, g.s)
            if fast:
                res = _tiles.fast_tile_sums(kernel, *args, *tail)
                if res is not None:
                    return res
            return _tiles.tile_sums(kernel, *args, *tail, legacy, signed, inputs.extras)

        return work

    def _merger(self, ctx, gate, extras):
        """``take((sums, nhit))``, merging one tile into the outputs, and its hit counter."""
        img, wht = self._out_img, self._out_wht
        plane = None if ctx is None else self._out_ctx[ctx[0]]
        bit = None if ctx is None else np.uint32(1 << ctx[1]).view(np.int32)
        fill = self._fill
        # "out_img == fill wherever out_wht == 0" holds unless a caller's out_img has not had
        # its fill yet (or is never filled): then the merge takes the masked, safe path
        trusted = self._fill is not None and not self._fill_pending
        contributed = [0]
        more = None
        if extras is not None:
            img2 = self._out_img2 if extras[0] else []
            more = (self._out_dq if extras[2] is not None else None, img2, self._fill2)

        def take(result):
            res, nhit = result
            contributed[0] += nhit
            if res is not None:
                gate.enter()
                _merge.merge_tile(img, wht, plane, bit, res, fill, trusted, more)

        return take, contributed

    def _unread_outputs(self, inputs, g):
        """The outputs the tile work never reads (all but self-referential calls).

        Their pages are dropped in forked workers, so that merging does not copy them.
        """
        ins = [g.pixmap, inputs.data, inputs.weight_map]
        if inputs.extras is not None:  # variances and DQ are read by the workers too
            ins += [*inputs.extras[0], inputs.extras[2]]
        ins = [a for a in ins if a is not None]
        outs = (self._out_img, self._out_wht, self._out_ctx, self._out_dq, *(self._out_img2 or ()))
        return [
            o
            for o in outs
            if o is not None and not any(np.may_share_memory(o, a) for a in ins)
        ]


class _Inputs(NamedTuple):
    """The values of one image, as the tiles read them (float32, as the C drizzle)."""

    data: np.ndarray
    dscale: np.float32
    weight_map: np.ndarray | None
    wscale: np.float32
    #: ``(variances, vscale, dq)`` for the variance and DQ outputs, or None
    extras: tuple | None = None


class _Geometry(NamedTuple):
    """Where one image's pixels go: pixmap, input section, drop size, pixel scale ratio."""

    pixmap: np.ndarray
    finite: bool
    box: tuple[int, int, int, int]
    pixfrac: float
    s: float


def _image_and_pixmap(data, pixmap):
    """``data`` as a 2-D numeric array (at least 2 x 2) and a pixmap of its shape.

    A float32 pixmap is used as it is (:func:`~ditherlab.drizzle._checks.pixmap_array`).
    """
    data = np.asarray(data)
    if data.ndim != 2 or data.dtype.kind not in "biuf":
        raise DitherlabValueError(
            f"data must be a 2-D numeric array, got shape {data.shape} dtype {data.dtype}"
        )
    ny, nx = data.shape
    if ny < 2 or nx < 2:
        raise DitherlabValueError(f"data shape {data.shape} must be at least (2, 2)")
    pixmap = pixmap_array(pixmap)
    if pixmap.shape != (ny, nx, 2):
        raise DitherlabValueError(
            f"pixmap shape {pixmap.shape} is not consistent with data shape {data.shape}: "
            f"expected {(ny, nx, 2)}"
        )
    return data, pixmap


def _inferred_out_shape(pixmap):
    """``(ny, nx)`` reaching the largest mapped position (C's rule, not transposed).

    No shift, so later images land in the same frame as the first; far enough for the
    whole drop around the largest mapped centre.
    """
    valid = np.isfinite(pixmap).all(axis=2)
    if not np.any(valid):
        raise DitherlabValueError("pixmap has no finite values; cannot infer out_shape")
    px, py = pixmap[..., 0][valid], pixmap[..., 1][valid]
    if px.max() < -0.5 or py.max() < -0.5:
        raise DitherlabValueError(
            "pixmap maps every pixel to negative output coordinates; pass out_shape"
        )
    shape = (math.ceil(py.max()) + 1, math.ceil(px.max()) + 1)
    if shape[0] * shape[1] > 2**31:
        raise DitherlabValueError(
            f"inferred out_shape {shape} is too large (pixmap reaches "
            f"x={px.max():.3g}, y={py.max():.3g}); pass out_shape"
        )
    return shape
