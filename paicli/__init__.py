"""paicli: batch green/blue-screen background replacement for film post-production.

Importing the package is cheap: heavy modules (numpy, PyAV, torch) load on first use.
"""
import os

__version__ = "0.1.0"

MAX_IMAGE_PIXELS = 1 << 28  # 16384 x 16384: a 16K plate or a wide panorama; beyond is a damaged or hostile header
MAX_IMAGE_SIDE = 1 << 16
# OpenCV reads its decoder limits when cv2 is first imported (the engine imports it early):
# set them before anything does, so TIFF, JPEG ... headers beyond them are refused, not allocated
for _name, _value in (("OPENCV_IO_MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS), ("OPENCV_IO_MAX_IMAGE_WIDTH", MAX_IMAGE_SIDE),
                      ("OPENCV_IO_MAX_IMAGE_HEIGHT", MAX_IMAGE_SIDE)):
    os.environ.setdefault(_name, str(_value))
