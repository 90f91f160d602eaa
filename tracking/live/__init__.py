"""Live tracking from a camera, with closed-loop outputs (no Django import).

One process owns the camera. :mod:`.sources` grabs frames in a thread that keeps only the
newest one with its capture timestamp; :mod:`.session` detects in it (the engine's dynamic
cropping), gives the animals their identities (:mod:`.identity`), runs the rules
(:mod:`.rules`) and hands their events to the outputs (:mod:`.outputs`, each on its own
thread), while :mod:`.recording` keeps the video (H.264) and the detections (the engine's
chunks) so that the session ends as an ordinary tracking run.
"""
