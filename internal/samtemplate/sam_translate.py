#!/usr/bin/env python3
"""Runs the AWS SAM transform over a template as `sam deploy` would.

Usage: sam_translate.py TEMPLATE [OUT.json]

Every AWS::Serverless::Function's CodeUri is replaced by an S3 URI first,
as `sam package` does, then samtranslator (aws-sam-translator, the library
`sam` and CloudFormation's transform use) expands the template. Exit status
0 and the CloudFormation JSON on OUT (or stdout) when the transform
succeeds; 1 with the translator's messages when it fails; 2 when the
samtranslator package is not installed.
"""
import json
import os
import sys

try:
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        "samtranslator is not installed (%s): install aws-sam-translator "
        "(pip install aws-sam-translator) to check template.yaml\n" % e)
    sys.exit(2)


class NoManagedPolicies:
    """The template names no AWS managed policy by name, so no IAM lookup."""

    def load(self):
        return {}


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 1
    with open(argv[1], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for logical_id, res in template.get("Resources", {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            res.setdefault("Properties", {})["CodeUri"] = (
                "s3://ragchat-artifacts/%s/0123456789abcdef" % logical_id)
    # The transform asks boto3 for a region (for pseudo parameters and ARNs);
    # any region gives the same verdict on the template.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        out = transform(template, {}, NoManagedPolicies())
    except InvalidDocumentException as e:
        for cause in e.causes:
            sys.stderr.write("sam transform: %s\n" % cause.message)
        return 1
    text = json.dumps(out, indent=1, sort_keys=True)
    if len(argv) == 3:
        with open(argv[2], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
