"""The bilan (SPEC C13): build.py regenerates the document (families, actions, operators, one
table of indicators per action, its bilan qualitatif) from the catalogue, the engine and the
assessments; render.py answers it as JSON or as a file: CSV and Markdown (formats.py, with the
figures' wording every format shares), XLSX (xlsx.py), HTML (html.py, its charts drawn by
svg.py), PDF (pdf.py); charts.py holds the summary charts' figures."""
