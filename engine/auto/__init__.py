"""The search: from one model and a goal, build candidates from the pass library, measure them against
the parent, and recommend the fastest (or smallest) one within the accuracy budget — or the parent."""
