#!/usr/bin/env python3
"""Sets up a moto S3 server started with INITIAL_NO_AUTH_ACTION_COUNT=4 (it checks
credentials from the fifth request on) for chunkwise's credential tests: an IAM user with
an access key and full S3 rights, and the bucket BUCKET. Prints `KEY_ID SECRET`.

    s3_auth_setup.py ENDPOINT BUCKET
"""

import json
import sys

import boto3


def main(endpoint, bucket):
    anyone = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", **anyone)
    iam.create_user(UserName="chunkwise")
    key = iam.create_access_key(UserName="chunkwise")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="chunkwise", PolicyName="s3", PolicyDocument=json.dumps(policy))
    boto3.client("s3", **anyone).create_bucket(Bucket=bucket)
    print(key["AccessKeyId"], key["SecretAccessKey"])


if __name__ == "__main__":
    main(*sys.argv[1:3])
