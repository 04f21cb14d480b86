"""Stroke skeletons of the digits 0-9 (several writing styles each), in the language of ``strokes``.

Besides the textbook forms, the less tidy shapes real writers use are here on purpose: a 2 that
starts with a curl or small loop and ends in a long flat base, an 8 of two crossing strokes with an
open top, a 6 with a small loop under a long stem, a 0 left open at the top and as wide as an O.
Without them a model reads those shapes as L, X, G and O.
"""
from __future__ import annotations

DIGIT_STYLES: dict[str, list[tuple[float, str]]] = {
    "0": [
        (4, "A 50 50 30 50 95 460"),
        (2, "A 50 50 32 50 60 420"),
        (1, "A 50 50 30 50 95 460; M 75 15 L 25 85"),                           # slashed zero
        # A few zeros as wide as an O, so width alone does not tell 0 from O.
        (1, "A 50 50 40 50 90 455"),
        (1, "A 50 50 44 50 80 400"),                                            # open at the top right
        (1, "A 50 50 36 50 100 425"),                                           # open, narrower
        (1, "M 62 4 C 20 -5 5 40 10 65 C 15 100 85 105 90 60 C 94 30 80 8 60 2"),  # lopsided, one curve
    ],
    "1": [
        (4, "M 50 0 L 50 100"),
        (3, "M 25 25 L 55 0 L 55 100"),
        (2, "M 25 22 L 55 0 L 55 100; M 25 100 L 85 100"),
        (2, "M 15 42 L 58 0 L 58 100"),                                         # long flag
        (1, "M 20 35 C 35 25 48 12 56 0 C 54 35 52 70 50 100"),                 # long, curved flag
    ],
    "2": [
        (4, "M 15 25 C 15 -5 85 -5 85 25 C 85 50 40 70 10 100 L 90 100"),
        (2, "M 12 15 C 40 -8 90 0 80 35 C 72 60 30 80 12 100 C 40 92 70 95 92 100"),
        (1, "M 15 22 C 20 -5 85 -5 80 28 C 75 55 30 75 20 92 C 15 105 30 80 40 88 C 60 100 80 100 92 95"),
        # A curl at the start and a long flat base reaching past the top arc.
        (2, "M 28 24 C 14 26 10 12 24 6 C 45 -4 78 2 76 28 C 74 52 40 74 12 96 C 40 96 70 98 98 100"),
        (2, "M 34 2 C 30 20 12 26 12 14 C 12 0 50 -6 68 4 C 88 16 78 44 58 60 L 10 98 L 95 98"),   # small loop
    ],
    "3": [
        (4, "M 15 12 C 40 -5 85 0 80 25 C 75 45 50 48 40 48 C 95 50 95 100 50 100 C 35 100 20 95 12 88"),
        (2, "M 12 0 L 85 0 L 45 42 C 100 40 100 100 45 100 C 30 100 18 95 10 85"),
        (1, "M 15 15 C 30 -5 80 -5 80 22 C 80 40 55 45 40 46; M 40 46 C 100 45 100 105 45 100 C 30 98 18 92 12 85"),
    ],
    "4": [
        (4, "M 65 100 L 65 0 L 10 68 L 90 68"),                                 # closed
        (3, "M 30 0 L 15 65 L 90 65; M 68 25 L 68 100"),                        # open
        (1, "M 60 0 L 10 70 L 92 68; M 65 30 L 62 100"),
    ],
    "5": [
        (4, "M 85 0 L 25 0 L 20 45 C 50 30 90 40 88 70 C 85 100 40 105 12 88"),
        (3, "M 25 0 L 20 45 C 50 30 90 40 88 70 C 85 100 40 105 12 88; M 25 0 L 88 0"),
        (1, "M 22 2 L 20 42 C 60 20 95 50 85 78 C 75 105 30 100 15 90; M 28 2 L 85 -2"),
        # A short, slanting flag over a stem that bends straight into a round bowl.
        (2, "M 30 0 C 28 15 25 30 22 48 C 40 36 85 38 85 70 C 85 100 40 104 10 92; M 30 2 L 78 6"),
        (1, "M 80 4 L 28 4 L 18 50 C 45 28 92 40 88 72 C 84 96 50 100 35 100 C 25 100 15 96 10 90"),   # angular
    ],
    "6": [
        (4, "M 75 3 C 45 5 15 35 15 70 C 15 95 40 100 50 100 C 75 100 85 85 85 70 "
            "C 85 50 65 42 50 42 C 35 42 20 52 16 65"),
        (2, "M 70 0 C 40 20 15 50 18 80 C 22 105 80 105 82 75 C 82 50 40 45 18 70"),
        # A long curved stem with a small loop at its foot.
        (2, "M 78 2 C 40 5 15 40 18 75 C 20 100 50 104 66 92 C 80 80 72 58 56 58 C 42 58 30 64 22 72"),
        (2, "M 84 16 C 74 -4 40 -4 28 20 C 16 44 14 80 26 94 C 38 106 66 102 72 86 "
            "C 78 68 62 56 48 60 C 36 64 28 70 22 78"),                        # rounded top, like a C
        (2, "M 62 0 L 24 66 C 16 86 28 100 48 100 C 70 100 80 86 78 72 C 76 58 58 52 46 56 "
            "C 36 60 28 66 24 72"),                                             # straight stem
    ],
    "7": [
        (5, "M 10 0 L 90 0 L 35 100"),
        (2, "M 10 0 L 90 0 L 35 100; M 35 52 L 78 50"),                         # with a bar
        (1, "M 10 18 L 12 0 L 90 0 C 70 35 55 65 45 100"),
    ],
    "8": [
        (4, "M 50 48 C 10 40 15 0 50 0 C 85 0 90 40 50 48 C 5 55 10 100 50 100 C 90 100 95 55 50 48"),
        (2, "A 50 25 30 24 270 630; A 50 73 37 27 90 450"),                     # two loops
        (1, "M 75 10 C 60 -5 20 0 25 25 C 30 45 85 55 82 78 C 80 105 15 105 18 78 C 22 55 80 40 75 10"),
        # Two strokes that cross like an X over the bottom loop, the top left open.
        (2, "M 88 0 C 70 25 32 42 28 72 C 25 102 75 102 72 72 C 68 42 30 25 12 2"),
        (1, "M 82 0 L 32 58 C 18 76 28 100 50 100 C 72 100 82 76 68 58 L 18 0"),
        (1, "A 50 22 24 22 270 630; A 50 70 34 30 90 450"),                     # small loop on a big one
    ],
    "9": [
        (4, "M 85 30 C 85 0 15 0 15 30 C 15 55 85 55 85 30 L 80 100"),
        (2, "M 82 25 C 70 -5 15 0 18 30 C 20 55 80 50 84 20 C 85 60 70 90 45 100"),
        (1, "A 50 28 34 28 0 360; M 84 28 L 84 100"),
        (2, "A 52 24 30 24 -10 350 L 45 100"),                                  # straight, slanting stem
        (1, "M 80 12 C 65 -4 22 0 22 25 C 22 48 70 48 80 22 L 78 100"),         # head open at the top left
    ],
}
