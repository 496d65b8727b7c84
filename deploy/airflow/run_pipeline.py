"""The pipeline's command line as a script, for launchers that run a file (Airflow's
BeamRunPythonPipelineOperator ``py_file``): ``python run_pipeline.py --input ... --output ...``."""
import sys

from pipeline.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
