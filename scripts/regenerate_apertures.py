"""Regenerate ``ditherlab/planner/data/hst_apertures.json`` from pysiaf's bundled HST SIAF.

Usage::

    python scripts/regenerate_apertures.py            # writes the data file
    python scripts/regenerate_apertures.py --check    # compares with the shipped file

The run-time package never imports pysiaf: it reads the JSON written here.  For each
built-in aperture the file holds the SIAF values (V2Ref, V3Ref, V3IdlYAngle, VIdlParity,
XSciRef, YSciRef, the Sci2Idl polynomial, ideal-frame vertices) plus the curated facts
pysiaf does not have for HST: which flt chip the aperture's science frame lies on, that
chip's flt array shape, the SIAF-science -> 0-based-flt offset, and friendly aliases.

The Sci2Idl coefficients are stored as a (deg+1, deg+1) matrix ``C`` with
``X = sum C[i, j] * dx**i * dy**j`` (``dx = x_sci - XSciRef``, ``dy = y_sci - YSciRef``);
the script checks that this reproduces ``pysiaf`` ``sci_to_idl`` to 1e-9 arcsec and that
the SIAF ideal vertices fall on the flt pixel edges implied by the offsets below.
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import json
import sys
from pathlib import Path

import numpy as np

# run from a source checkout without installing: make this checkout's ditherlab importable
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OUT = Path(__file__).resolve().parents[1] / "ditherlab" / "planner" / "data" / "hst_apertures.json"

# Curated detector facts.  sci_offset = (ox, oy): x_siaf = x_flt + ox, y_siaf = y_flt + oy,
# with x_flt, y_flt 0-based flt pixel coordinates (integer = pixel centre).  The SIAF science
# frame is 1-based and, for the CCDs, counts the serial prescan columns (ACS/WFC 24, ACS/HRC 19,
# WFC3/UVIS 25) and for WFC3/IR the 5-pixel reference border on every side.
DETECTORS = {
    # key: (instrument, detector, (ny, nx) flt shape, (ox, oy), chips in flt SCI order)
    "ACS/WFC": ("ACS", "WFC", (2048, 4096), (25.0, 1.0), ("JWFC2FIX", "JWFC1FIX")),
    "ACS/HRC": ("ACS", "HRC", (1024, 1024), (20.0, 1.0), ("JHRCFIX",)),
    "ACS/SBC": ("ACS", "SBC", (1024, 1024), (1.0, 1.0), ("JSBCFIX",)),
    "WFC3/UVIS": ("WFC3", "UVIS", (2051, 4096), (26.0, 1.0), ("IUVIS2FIX", "IUVIS1FIX")),
    "WFC3/IR": ("WFC3", "IR", (1014, 1014), (6.0, 6.0), ("IIRFIX",)),
    "WFPC2/PC": (
        "WFPC2",
        "PC",
        (800, 800),
        (1.0, 1.0),
        ("UPC1FIX", "UWF2FIX", "UWF3FIX", "UWF4FIX"),
    ),
    "WFPC2/WF": (
        "WFPC2",
        "WF",
        (800, 800),
        (1.0, 1.0),
        ("UPC1FIX", "UWF2FIX", "UWF3FIX", "UWF4FIX"),
    ),
}

# name: (detector key, CCDCHIP, aliases, note)
APERTURES = {
    "JWFC1FIX": (
        "ACS/WFC",
        1,
        ("acs-wfc1", "wfc1", "acs-wfc1-fix"),
        "ACS/WFC chip 1, geometric centre",
    ),
    "JWFC2FIX": (
        "ACS/WFC",
        2,
        ("acs-wfc2", "wfc2", "acs-wfc2-fix"),
        "ACS/WFC chip 2, geometric centre",
    ),
    "JWFC": (
        "ACS/WFC",
        1,
        ("acs-wfc", "wfc"),
        "ACS/WFC full camera (APT 'WFC'); reference on WFC1",
    ),
    "JWFC1": ("ACS/WFC", 1, ("acs-wfc1-opt",), "ACS/WFC1 optimum aperture (APT 'WFC1')"),
    "JWFC2": ("ACS/WFC", 2, ("acs-wfc2-opt",), "ACS/WFC2 optimum aperture (APT 'WFC2')"),
    "JHRCFIX": ("ACS/HRC", 1, ("acs-hrc", "hrc", "acs-hrc-fix"), "ACS/HRC geometric centre"),
    "JHRC": ("ACS/HRC", 1, ("acs-hrc-opt",), "ACS/HRC (APT 'HRC')"),
    "JSBCFIX": ("ACS/SBC", 1, ("acs-sbc", "sbc", "acs-sbc-fix"), "ACS/SBC geometric centre"),
    "JSBC": ("ACS/SBC", 1, ("acs-sbc-opt",), "ACS/SBC (APT 'SBC')"),
    "IUVIS1FIX": (
        "WFC3/UVIS",
        1,
        ("wfc3-uvis1", "uvis1", "wfc3-uvis1-fix"),
        "WFC3/UVIS chip 1, centre",
    ),
    "IUVIS2FIX": (
        "WFC3/UVIS",
        2,
        ("wfc3-uvis2", "uvis2", "wfc3-uvis2-fix"),
        "WFC3/UVIS chip 2, centre",
    ),
    "IUVIS": (
        "WFC3/UVIS",
        1,
        ("wfc3-uvis", "uvis"),
        "WFC3/UVIS full camera (APT 'UVIS'); on UVIS1",
    ),
    "IUVIS1": ("WFC3/UVIS", 1, ("wfc3-uvis1-opt",), "WFC3/UVIS1 (APT 'UVIS1')"),
    "IUVIS2": ("WFC3/UVIS", 2, ("wfc3-uvis2-opt",), "WFC3/UVIS2 (APT 'UVIS2')"),
    "IIRFIX": ("WFC3/IR", 1, ("wfc3-ir", "ir", "wfc3-ir-fix"), "WFC3/IR geometric centre"),
    "IIR": ("WFC3/IR", 1, ("wfc3-ir-opt",), "WFC3/IR optimum aperture (APT 'IR')"),
    "UPC1FIX": ("WFPC2/PC", 1, ("wfpc2-pc1", "pc1", "wfpc2-pc"), "WFPC2 PC1"),
    "UWF2FIX": ("WFPC2/WF", 2, ("wfpc2-wf2", "wf2"), "WFPC2 WF2"),
    "UWF3FIX": ("WFPC2/WF", 3, ("wfpc2-wf3", "wf3"), "WFPC2 WF3"),
    "UWF4FIX": ("WFPC2/WF", 4, ("wfpc2-wf4", "wf4"), "WFPC2 WF4"),
}


def coefficient_matrix(aperture, axis: str) -> np.ndarray:
    """Sci2Idl coefficients of ``axis`` ('X' or 'Y') as C[i, j] (power of dx, power of dy).

    pysiaf stores HST coefficients in the JWST convention after loading: ``Sci2Idl{axis}{k}{l}``
    multiplies ``dx**(k - l) * dy**l``.
    """
    deg = int(aperture.Sci2IdlDeg)
    c = np.zeros((deg + 1, deg + 1))
    for k in range(deg + 1):
        for l in range(k + 1):
            value = getattr(aperture, f"Sci2Idl{axis}{k}{l}")
            c[k - l, l] = 0.0 if value is None else float(value)
    return c


def _polyval(c: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return np.polynomial.polynomial.polyval2d(dx, dy, c)


def _newton(c_x, c_y, X, Y):
    """Invert the polynomial by Newton iteration with a numerical Jacobian (check only)."""
    dx = np.zeros_like(X)
    dy = np.zeros_like(Y)
    dcx_dx = np.polynomial.polynomial.polyder(c_x, axis=0)
    dcx_dy = np.polynomial.polynomial.polyder(c_x, axis=1)
    dcy_dx = np.polynomial.polynomial.polyder(c_y, axis=0)
    dcy_dy = np.polynomial.polynomial.polyder(c_y, axis=1)
    for _ in range(50):
        fx = _polyval(c_x, dx, dy) - X
        fy = _polyval(c_y, dx, dy) - Y
        a, b = _polyval(dcx_dx, dx, dy), _polyval(dcx_dy, dx, dy)
        cc, d = _polyval(dcy_dx, dx, dy), _polyval(dcy_dy, dx, dy)
        det = a * d - b * cc
        dx = dx - (d * fx - b * fy) / det
        dy = dy - (a * fy - cc * fx) / det
    return dx, dy


def build(siaf_file: str = "siaf.dat-Latest") -> dict:
    """Read the HST SIAF through pysiaf and return the JSON document as a dict."""
    from ditherlab.planner.apertures import _import_pysiaf

    pysiaf = _import_pysiaf()  # without pysiaf's network version check

    prd = Path(pysiaf.__file__).parent / "prd_data" / "HST"
    same_as = sorted(
        p.name
        for p in prd.glob("siaf.dat-*")
        if p.name != siaf_file and filecmp.cmp(prd / siaf_file, p, shallow=False)
    )
    siaf = pysiaf.Siaf("HST")
    rng = np.random.default_rng(20260101)
    apertures = []
    for name, (det_key, chip, aliases, note) in APERTURES.items():
        a = siaf[name]
        instrument, detector, shape, offset, chips = DETECTORS[det_key]
        c_x = coefficient_matrix(a, "X")
        c_y = coefficient_matrix(a, "Y")
        # 1. the matrix form reproduces pysiaf's sci_to_idl
        ny, nx = shape
        xs = rng.uniform(-0.5, nx - 0.5, 500) + offset[0]
        ys = rng.uniform(-0.5, ny - 0.5, 500) + offset[1]
        X, Y = a.sci_to_idl(xs, ys)
        mx = _polyval(c_x, xs - a.XSciRef, ys - a.YSciRef)
        my = _polyval(c_y, xs - a.XSciRef, ys - a.YSciRef)
        err = max(np.abs(mx - X).max(), np.abs(my - Y).max())
        if err > 1e-9:
            raise SystemExit(f"{name}: coefficient matrix differs from pysiaf by {err} arcsec")
        # 2. the ideal vertices of the chip (FIX) apertures lie on the flt array edges
        xv = np.array([a.v1x, a.v2x, a.v3x, a.v4x], dtype=float)
        yv = np.array([a.v1y, a.v2y, a.v3y, a.v4y], dtype=float)
        if not np.all(np.isfinite(xv)) or not np.all(np.isfinite(yv)):
            raise SystemExit(f"{name}: ideal vertices missing")
        if name in chips:
            dx, dy = _newton(c_x, c_y, xv, yv)
            x_flt = dx + a.XSciRef - offset[0]
            y_flt = dy + a.YSciRef - offset[1]
            edges_x = np.array([-0.5, nx - 0.5, nx - 0.5, -0.5])
            edges_y = np.array([-0.5, -0.5, ny - 0.5, ny - 0.5])
            worst = max(np.abs(x_flt - edges_x).max(), np.abs(y_flt - edges_y).max())
            if not worst <= 0.7:
                raise SystemExit(f"{name}: vertices are {worst:.2f} px from the flt edges")
        apertures.append(
            {
                "name": name,
                "aliases": list(aliases),
                "instrument": instrument,
                "detector": detector,
                "chip": chip,
                "shape": list(shape),
                "sci_offset": list(offset),
                "siaf_reference": [float(a.XSciRef), float(a.YSciRef)],
                "v2_ref": float(a.V2Ref),
                "v3_ref": float(a.V3Ref),
                "v3_idl_yangle": float(a.V3IdlYAngle),
                "vidl_parity": int(a.VIdlParity),
                "degree": int(a.Sci2IdlDeg),
                "poly_x": c_x.tolist(),
                "poly_y": c_y.tolist(),
                "idl_vertices": [xv.tolist(), yv.tolist()],
                "chips": list(chips),
                "note": note,
            }
        )
    return {
        "description": (
            "HST SIAF science->ideal (POS TARG) polynomials for ditherlab's built-in apertures. "
            "poly_x/poly_y: C[i][j] multiplies dx**i * dy**j, dx = x - XSciRef, dy = y - YSciRef "
            "(SIAF science pixels); x_flt(0-based) = x_siaf - sci_offset[0], "
            "y_flt(0-based) = y_siaf - sci_offset[1]. shape = (ny, nx) of the chip's flt array."
        ),
        "provenance": {
            "source": "pysiaf HST SIAF (prd_data/HST)",
            "pysiaf_version": pysiaf.__version__,
            "siaf_file": siaf_file,
            "siaf_file_identical_to": same_as,
            "generated_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
            "generated_by": "scripts/regenerate_apertures.py",
        },
        "apertures": apertures,
    }


def _dumps(doc: dict) -> str:
    """JSON with one key per line and every value (lists included) on that line."""
    lines = ["{"]
    top = list(doc.items())
    for n, (key, value) in enumerate(top):
        comma = "," if n < len(top) - 1 else ""
        if key == "apertures":
            lines.append(f' "{key}": [')
            for m, ap in enumerate(value):
                items = [f'   "{k}": {json.dumps(v)}' for k, v in ap.items()]
                end = "," if m < len(value) - 1 else ""
                lines.append("  {\n" + ",\n".join(items) + "\n  }" + end)
            lines.append(" ]" + comma)
        else:
            lines.append(f' "{key}": {json.dumps(value)}{comma}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    parser.add_argument("--output", type=Path, default=OUT)
    args = parser.parse_args(argv)
    doc = build()
    if args.check:
        shipped = json.loads(args.output.read_text())
        same = shipped["apertures"] == doc["apertures"]
        print("up to date" if same else "DIFFERENT: rerun without --check")
        return 0 if same else 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(_dumps(doc))
    tmp.replace(args.output)
    print(f"wrote {args.output} ({len(doc['apertures'])} apertures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
