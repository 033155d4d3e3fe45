"""The deploy rehearsal: what CloudFormation would receive from `sam deploy`, for every parameter set the docs offer,
checked the way only a deployment would otherwise check it (python -m tooling.rehearsal, make rehearse).

For each parameter set of tooling/rehearsal/matrix.py, the template is transformed by the SAM translator the pinned
SAM CLI ships (the code `sam validate` runs, nested templates included), then the plain CloudFormation it produces is
checked: cfn-lint and checkov, the resource graph for cycles, every physical name for one that two stacks in one
account would share, and every parameter a function's configuration reads for a change that `live` would never see.
"""
