"""Workflow: the glue between the stages and the tools that run them.

Owns planning a run from the configuration (:mod:`.plan`: schema check, image inventory),
running one step with one-line errors (:mod:`.runner`), the digests of the code each rule
runs (:mod:`.codedeps`), generating ``dvc.yaml`` (:mod:`.dvcgen`), inspecting new
radiographs end to end with a trained model (:mod:`.inspection`) and the thesis's model
experiments (:mod:`.experiments`).

May import: every other stage. Nothing below imports it.
"""
