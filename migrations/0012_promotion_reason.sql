-- SPDX-License-Identifier: Apache-2.0
-- Why a promotion was asked for, kept while it awaits approval and
-- recorded with it: a rollback (an archived prod version promoted to prod
-- again) must say why, and the reason must survive the approval, whose
-- own comment goes to artifact_promotions.comment.
ALTER TABLE artifacts ADD COLUMN pending_reason text;
ALTER TABLE artifact_promotions ADD COLUMN reason text;
