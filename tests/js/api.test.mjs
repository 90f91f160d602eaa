// The shared API helpers' error reading under Node (no browser: only pure parts).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, firstError } from "../../static/webapp/api.js";
import { isFinished, jobUrl } from "../../static/webapp/jobs.js";

test("firstError reads DRF's shapes, nested ones too", () => {
  assert.equal(firstError({ path: ["No such file."] }, "x"), "No such file.");
  assert.equal(firstError({ detail: "Not found." }, "x"), "Not found.");
  assert.equal(firstError({ zones: [{ points: ["not a simple polygon"] }] }, "x"),
    "not a simple polygon");
  assert.equal(firstError(null, "fallback"), "fallback");
});

test("an ApiError's message is the server's reason; lines() name every field", () => {
  const error = new ApiError(400, { name: ["Required."], fps: ["Too high.", "Not a number."] });
  assert.equal(error.message, "Required.");
  assert.deepEqual(error.lines(), ["name: Required.", "fps: Too high.", "fps: Not a number."]);
  assert.deepEqual(new ApiError(404, { detail: "Not found." }).lines(), ["Not found."]);
  assert.equal(new ApiError(502, null).message, "The server answered 502.");
});

test("job helpers: finished states and urls from a template", () => {
  assert.equal(isFinished({ status: "running" }), false);
  assert.equal(isFinished({ status: "timed_out" }), true);
  assert.equal(isFinished({ status: "running", is_finished: true }), true);
  assert.equal(jobUrl("/api/jobs/0/cancel/", 42), "/api/jobs/42/cancel/");
});
