-- Issue 15: each image item's placeholder (a ThumbHash, base64), computed
-- at upload; items stored before it have none ('').
ALTER TABLE media ADD COLUMN placeholder TEXT NOT NULL DEFAULT '';
