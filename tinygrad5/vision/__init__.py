"""Finding, ordering and cropping handwritten characters in photos (numpy + scipy + Pillow).

    image = read_image("photo.jpg")
    boxes, bw = find_letters(image)      # K×4 [y1, x1, y2, x2], ink-0 cleaned image
    lines = group_lines(boxes)           # top to bottom, left to right, with word spaces
    cells = crop_letters(bw, boxes)      # K×32×32 float32, NIST-like, upright
    print(page_text(lines, predicted_chars))
"""
from .crops import crop_letters
from .io import read_image
from .letters import find_letters
from .lines import Line, group_lines, line_text, page_text

__all__ = ["read_image", "find_letters", "group_lines", "Line", "line_text", "page_text", "crop_letters"]
