"""Dynamic cropping: windows at the full frame's scale and grid, mapping back, fallbacks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tracking.engine.cropping import (
    PAD_VALUE,
    CropParams,
    DynamicCropper,
    Window,
    crop_imgsz,
    extract,
    fallback_reason,
    letterbox_offset,
    merge_window_boxes,
    plan_window,
    plan_windows,
    to_frame,
)

VGA = (640, 480)


def test_a_crop_gets_the_input_size_that_keeps_the_full_frames_scale():
    # 640x480 at 320 is scaled by 1/2: a 192x128 crop is 96 px on its long side.
    assert crop_imgsz(192, 128, frame_size=VGA, imgsz=320) == 96
    assert crop_imgsz(150, 40, frame_size=VGA, imgsz=320) == 96  # 75 rounds up to 96
    assert crop_imgsz(40, 150, frame_size=VGA, imgsz=640) == 160
    assert crop_imgsz(3, 3, frame_size=VGA, imgsz=320) == 32


def test_letterbox_offset_is_ultralytics_padding_of_the_full_frame():
    assert letterbox_offset((640, 480), 320) == (0.0, 8.0)  # 320x240 padded to 320x256
    assert letterbox_offset((480, 640), 320) == (8.0, 0.0)
    assert letterbox_offset((320, 320), 320) == (0.0, 0.0)
    assert letterbox_offset((1920, 1080), 640) == (0.0, 12.0)  # 640x360 padded to 640x384


def test_the_window_holds_every_grown_box_on_the_full_frames_grid():
    boxes = np.array([[200, 150, 260, 190], [300, 170, 330, 230]], np.float32)
    window = plan_window(boxes, frame_size=VGA, imgsz=320, params=CropParams(margin=1.0))
    assert window is not None
    cell = 64  # one stride-32 cell of the full frame's input, in original pixels
    # The corner sits on the full frame's cells (shifted by its 8 px = 16 original px pad).
    assert window.x0 % cell == 0 and (window.y0 + 16) % cell == 0
    assert window.width % cell == 0 and window.height % cell == 0
    # Each box grown by its longer side (60 and 60 px) on every side fits inside.
    assert window.x0 <= 200 - 60 and window.y0 <= 150 - 60
    assert window.x1 >= 330 + 60 and window.y1 >= 230 + 60
    assert window.imgsz == max(window.width, window.height) // 2  # the full frame's scale


@pytest.mark.parametrize("box", [[300, 200, 360, 240], [10, 5, 70, 45], [580, 430, 635, 478]])
def test_the_resized_window_is_exactly_a_piece_of_the_full_frames_network_input(box):
    """What the model sees in a window is, pixel for pixel and cell for cell, what it sees
    there in the letterboxed full frame (Ultralytics: resize 640x480 to 320x240, pad 8 px
    of grey above and below), at the frame's edges too."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (480, 640, 3), np.uint8)
    full_input = np.full((256, 320, 3), PAD_VALUE, np.uint8)
    full_input[8:248] = cv2.resize(image, (320, 240), interpolation=cv2.INTER_LINEAR)
    window = plan_window(np.array([box]), frame_size=VGA, imgsz=320, params=CropParams())
    crop = extract(image, window)
    r = window.imgsz / max(crop.shape[:2])
    assert r == 320 / 640
    small = cv2.resize(crop, None, fx=r, fy=r, interpolation=cv2.INTER_LINEAR)
    u0, v0 = window.x0 // 2, window.y0 // 2 + 8
    assert u0 % 32 == 0 and v0 % 32 == 0  # on the network's stride-32 cells
    piece = full_input[max(v0, 0) : v0 + small.shape[0], max(u0, 0) : u0 + small.shape[1]]
    same = small[max(0, -v0) :, max(0, -u0) :][: piece.shape[0], : piece.shape[1]]
    assert piece.shape[0] >= small.shape[0] - 8 and piece.shape[1] >= small.shape[1] - 8
    assert np.array_equal(same, piece)


def test_unaligned_windows_keep_the_scale_and_stay_inside_the_frame():
    params = CropParams(align=False)
    for box in ([300, 200, 360, 240], [2, 3, 60, 45], [590, 300, 638, 470]):
        window = plan_window(np.array([box]), frame_size=VGA, imgsz=320, params=params)
        assert 0 <= window.x0 < window.x1 <= 640 and 0 <= window.y0 < window.y1 <= 480
        assert window.imgsz / max(window.width, window.height) == 320 / 640
        x1, y1, x2, y2 = box
        assert window.x0 <= x1 and window.y0 <= y1 and window.x1 >= x2 and window.y1 >= y2


def test_extract_is_a_view_inside_the_frame_and_pads_with_letterbox_grey_outside():
    image = np.arange(480 * 640 * 3, dtype=np.uint32).reshape(480, 640, 3).astype(np.uint8)
    inside = extract(image, Window(64, 48, 192, 176, 64))
    assert np.shares_memory(inside, image) and inside.shape == (128, 128, 3)
    outside = extract(image, Window(576, -16, 704, 112, 64))
    assert outside.shape == (128, 128, 3)
    assert np.array_equal(outside[16:, :64], image[:112, 576:])
    assert (outside[:16] == PAD_VALUE).all() and (outside[:, 64:] == PAD_VALUE).all()


def test_crop_boxes_map_back_to_frame_pixels_exactly():
    window = Window(128, 48, 320, 176, 96)
    xywh = np.array([[10.5, 20.25, 30, 40], [0, 0, 5, 5]], np.float32)
    boxes, scores = to_frame(xywh, np.array([0.9, 0.4]), window, VGA)
    assert boxes.dtype == np.float32
    assert np.array_equal(
        boxes, np.array([[138.5, 68.25, 168.5, 108.25], [128, 48, 133, 53]], np.float32)
    )
    assert np.allclose(scores, [0.9, 0.4])


def test_crop_boxes_are_clipped_to_the_frame_and_empty_ones_dropped_with_their_scores():
    window = Window(576, -16, 704, 112, 64)
    xywh = np.array([[40, 0, 60, 40], [70, 30, 20, 20], [10, 0, 20, 10]], np.float32)
    boxes, scores = to_frame(xywh, np.array([0.9, 0.8, 0.7]), window, VGA)
    # The first passes the right edge (x 616..676 -> ..640); the second lies beyond it; the
    # third is above the top (y -16..-6).
    assert np.array_equal(boxes, np.array([[616, 0, 640, 24]], np.float32))
    assert np.allclose(scores, [0.9])


@pytest.mark.parametrize(
    ("boxes", "scores", "reason"),
    [
        ([[200, 200, 240, 230]], [0.9], "fewer_animals"),
        ([[200, 200, 240, 230], [260, 200, 300, 230]], [0.9, 0.3], "low_score"),
        ([[200, 200, 240, 230], [129, 200, 160, 230]], [0.9, 0.8], "at_edge"),  # x0 = 128
        ([[200, 200, 240, 230], [260, 200, 300, 230]], [0.9, 0.8], None),
        # More boxes than animals: the best two count.
        ([[200, 200, 240, 230], [260, 200, 300, 230], [300, 300, 310, 310]], [0.9, 0.8, 0.3], None),
    ],
)
def test_fallback_reasons(boxes, scores, reason):
    window = Window(128, 112, 384, 368, 128)
    got = fallback_reason(
        np.array(boxes, np.float32),
        np.array(scores, np.float32),
        window=window,
        frame_size=VGA,
        n_animals=2,
        params=CropParams(min_score=0.5),
    )
    assert got == reason


def test_a_box_on_the_frames_own_edge_is_no_reason_to_fall_back():
    window = Window(0, -16, 192, 112, 96)  # touches the frame's left and top edges
    got = fallback_reason(
        np.array([[0, 0, 40, 30]], np.float32),
        np.array([0.9], np.float32),
        window=window,
        frame_size=VGA,
        n_animals=1,
        params=CropParams(),
    )
    assert got is None


def test_no_window_when_it_would_cover_most_of_the_frame():
    far_apart = np.array([[10, 10, 60, 50], [580, 420, 630, 470]], np.float32)
    assert plan_window(far_apart, frame_size=VGA, imgsz=320, params=CropParams()) is None
    big = np.array([[100, 100, 400, 380]], np.float32)
    assert plan_window(big, frame_size=VGA, imgsz=320, params=CropParams(margin=0.2)) is None


def _cropper(**params):
    return DynamicCropper(frame_size=VGA, imgsz=320, n_animals=2, params=CropParams(**params))


TWO = np.array([[200, 200, 240, 230], [260, 200, 300, 230]], np.float32)


def test_the_cropper_starts_on_the_full_frame_and_crops_once_every_animal_is_found():
    cropper = _cropper()
    assert cropper.plan(0.0) is None
    cropper.update(0.0, TWO[:1], np.array([0.9], np.float32), full=True)  # one of two found
    assert cropper.plan(0.033) is None
    cropper.update(0.033, TWO, np.array([0.9, 0.8], np.float32), full=True)
    planned = cropper.plan(0.067)
    assert isinstance(planned, list) and all(isinstance(w, Window) for w in planned)


def test_the_cropper_goes_back_to_the_full_frame_every_refresh_period():
    cropper = _cropper(refresh_s=2.0)
    cropper.update(0.0, TWO, np.array([0.9, 0.8], np.float32), full=True)
    cropper.update(1.0, TWO, np.array([0.9, 0.8], np.float32), full=False)
    assert cropper.plan(1.9) is not None
    assert cropper.plan(2.0) is None
    cropper.update(2.0, TWO, np.array([0.9, 0.8], np.float32), full=True)
    assert cropper.plan(2.1) is not None


def test_a_disabled_cropper_always_plans_the_full_frame():
    cropper = _cropper(enabled=False)
    cropper.update(0.0, TWO, np.array([0.9, 0.8], np.float32), full=True)
    assert cropper.plan(0.033) is None


def test_a_weak_full_frame_detection_does_not_start_cropping():
    cropper = _cropper(min_score=0.5)
    cropper.update(0.0, TWO, np.array([0.9, 0.2], np.float32), full=True)
    assert cropper.plan(0.033) is None


def test_two_boxes_on_one_animal_do_not_count_as_two_animals():
    """A weak detector's body box and body + tail box of one mouse: the other mouse was not
    found, so the window can't stand for the frame, and no window is planned around one."""
    one = TWO[0]
    duplicates = np.array([one, one + [0, 0, 12, 4]], np.float32)  # IoU 0.7
    scores = np.array([0.9, 0.8], np.float32)
    window = Window(0, 0, 320, 320, 160)
    got = fallback_reason(
        duplicates, scores, window=window, frame_size=VGA, n_animals=2, params=CropParams()
    )
    assert got == "fewer_animals"
    cropper = _cropper()
    cropper.update(0.0, duplicates, scores, full=True)
    assert cropper.plan(0.033) is None
    # The second animal, weaker than the duplicate, still makes two.
    three = np.concatenate([duplicates, TWO[1:]])
    cropper.update(0.033, three, np.array([0.9, 0.8, 0.6], np.float32), full=True)
    assert cropper.plan(0.067) is not None
    assert fallback_reason(
        three, np.array([0.9, 0.8, 0.6], np.float32), window=window, frame_size=VGA,
        n_animals=2, params=CropParams(),
    ) is None  # fmt: skip


# --- one window per animal ---------------------------------------------------------------
FAR = np.array([[40, 40, 110, 90], [520, 380, 590, 430]], np.float32)  # opposite corners


def test_two_animals_far_apart_get_one_window_each_of_one_size_on_the_grid():
    params = CropParams()
    assert plan_window(FAR, frame_size=VGA, imgsz=320, params=params) is None  # one: too big
    windows = plan_windows(FAR, frame_size=VGA, imgsz=320, params=params)
    assert windows is not None and len(windows) == 2
    assert len({(w.width, w.height, w.imgsz) for w in windows}) == 1  # one batch, one shape
    off_x, off_y = letterbox_offset(VGA, 320)
    cell = 64  # 32 network pixels at 320 / 640
    for w in windows:
        assert (w.x0 + off_x * 2) % cell == 0 and (w.y0 + off_y * 2) % cell == 0
        assert w.imgsz == 32 * max(w.width, w.height) // cell < 320
    for box, w in zip(FAR, windows, strict=True):  # each box whole inside its window, grown
        grow = 0.5 * max(box[2] - box[0], box[3] - box[1])
        assert w.x0 <= max(0, box[0] - grow) and w.y0 <= max(0, box[1] - grow)
        assert w.x1 >= min(640, box[2] + grow) and w.y1 >= min(480, box[3] + grow)
    cells = sum(w.width * w.height for w in windows) / cell**2
    assert cells < (320 / 32) * (256 / 32) / 2  # under half the full frame's input
    one_only = CropParams(per_animal=False)
    assert plan_windows(FAR, frame_size=VGA, imgsz=320, params=one_only) is None


def test_animals_close_together_share_one_window_as_before():
    near = np.array([[200, 200, 260, 240], [270, 205, 330, 245]], np.float32)
    params = CropParams()
    windows = plan_windows(near, frame_size=VGA, imgsz=320, params=params)
    assert windows == [plan_window(near, frame_size=VGA, imgsz=320, params=params)]


def test_windows_of_animals_at_the_frames_edge_stay_inside_the_frame():
    edge = np.array([[0, 0, 60, 50], [580, 430, 640, 480]], np.float32)
    windows = plan_windows(edge, frame_size=VGA, imgsz=320, params=CropParams())
    assert windows is not None and len(windows) == 2
    for w in windows:  # within the letterboxed frame: at most the padding's offset outside
        assert w.x0 >= -16 and w.y0 >= -16 and w.x1 <= 640 + 16 and w.y1 <= 480 + 16


def test_many_animals_all_over_the_frame_get_the_full_frame():
    spread = np.array(
        [[x, y, x + 60, y + 50] for x in (20, 300, 560) for y in (20, 220, 420)], np.float32
    )
    assert plan_windows(spread, frame_size=VGA, imgsz=320, params=CropParams()) is None


def test_a_box_seen_by_two_overlapping_windows_counts_once():
    box = np.array([[100, 100, 160, 150]], np.float32)
    other = np.array([[400, 300, 460, 350]], np.float32)
    boxes, scores = merge_window_boxes(
        [
            (np.concatenate([box, other]), np.array([0.9, 0.8], np.float32)),
            (box + 0.5, np.array([0.85], np.float32)),
        ],
        iou=0.7,
    )
    assert len(boxes) == 2 and sorted(scores.tolist()) == pytest.approx([0.8, 0.9])


def test_a_box_cut_by_one_window_but_whole_in_another_stands():
    box = np.array([[120, 100, 180, 150]], np.float32)
    cutting = Window(0, 0, 128, 192, 64)  # its right edge (x=128) runs through the box
    holding = Window(64, 64, 256, 256, 96)
    ok = fallback_reason(box, np.array([0.9], np.float32), window=[cutting, holding],
                         frame_size=VGA, n_animals=1, params=CropParams())  # fmt: skip
    assert ok is None
    cut = fallback_reason(box, np.array([0.9], np.float32), window=[cutting],
                          frame_size=VGA, n_animals=1, params=CropParams())  # fmt: skip
    assert cut == "at_edge"


def test_the_cropper_plans_a_window_per_animal_once_both_are_found():
    cropper = DynamicCropper(frame_size=VGA, imgsz=320, n_animals=2, params=CropParams())
    cropper.update(0.0, FAR, np.array([0.9, 0.8], np.float32), full=True)
    planned = cropper.plan(0.033)
    assert planned is not None and len(planned) == 2


def test_a_piece_of_a_neighbour_cut_by_a_window_edge_is_left_out():
    windows = [Window(0, 0, 192, 192, 96), Window(256, 0, 448, 192, 96)]
    whole = np.array([[40, 40, 110, 90]], np.float32)
    piece = np.array([[150, 60, 192, 100]], np.float32)  # touches window 0's right edge
    other = np.array([[300, 50, 370, 100]], np.float32)
    boxes, scores = merge_window_boxes(
        [
            (np.concatenate([whole, piece]), np.array([0.9, 0.6], np.float32)),
            (other, np.array([0.8], np.float32)),
        ],
        iou=0.7,
        windows=windows,
        frame_size=VGA,
    )
    assert boxes.tolist() == np.concatenate([whole, other]).tolist()
    assert scores.tolist() == pytest.approx([0.9, 0.8])
