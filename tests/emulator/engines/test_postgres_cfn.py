"""AWS::RDS::DBInstance through CloudFormation starts a real server with the master secret it resolves."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from api_support import aws, uid

from streamflix_dr_emulator.engines import rds_hooks

REGION = "eu-west-2"


def template(suffix: str) -> dict[str, Any]:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "DbSecret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "Name": f"db-secret-{suffix}",
                    "GenerateSecretString": {
                        "SecretStringTemplate": json.dumps({"username": "streamflix"}),
                        "GenerateStringKey": "password",
                        "PasswordLength": 24,
                        "ExcludeCharacters": "\"@/\\' ",
                    },
                },
            },
            "DbParameterGroup": {
                "Type": "AWS::RDS::DBParameterGroup",
                "Properties": {
                    "DBParameterGroupName": f"db-params-{suffix}",
                    "Description": "TLS only",
                    "Family": "postgres16",
                    "Parameters": {"rds.force_ssl": "1", "log_min_duration_statement": "1000"},
                },
            },
            "DbInstance": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "DBInstanceIdentifier": f"db-{suffix}",
                    "DBName": "streamflix",
                    "Engine": "postgres",
                    "EngineVersion": "16.9",
                    "DBInstanceClass": "db.r6g.large",
                    "AllocatedStorage": "20",
                    "MasterUsername": {
                        "Fn::Sub": "{{resolve:secretsmanager:${DbSecret}:SecretString:username}}"
                    },
                    "MasterUserPassword": {
                        "Fn::Sub": "{{resolve:secretsmanager:${DbSecret}:SecretString:password}}"
                    },
                    "DBParameterGroupName": {"Ref": "DbParameterGroup"},
                    "BackupRetentionPeriod": "7",
                },
            },
        },
        "Outputs": {
            "Address": {"Value": {"Fn::GetAtt": ["DbInstance", "Endpoint.Address"]}},
            "Port": {"Value": {"Fn::GetAtt": ["DbInstance", "Endpoint.Port"]}},
            "SecretArn": {"Value": {"Ref": "DbSecret"}},
        },
    }


def test_stack_db_instance_takes_the_secret_and_serves_tls_on_its_outputs(
    engines_on: str, stacks: Any
) -> None:
    suffix = uid("e")
    stack = stacks.create(template(suffix), region=REGION)
    stacks.assert_status(stack)
    outputs = stacks.outputs(stack["StackName"], region=REGION)
    secret = json.loads(
        aws(engines_on, "secretsmanager", REGION).get_secret_value(SecretId=outputs["SecretArn"])[
            "SecretString"
        ]
    )
    assert outputs["Address"] == "127.0.0.1"
    conninfo = {
        "host": outputs["Address"],
        "port": int(outputs["Port"]),
        "user": secret["username"],
        "password": secret["password"],
        "dbname": "streamflix",
        "connect_timeout": 10,
    }
    with psycopg.connect(**conninfo, sslmode="verify-full", sslrootcert=str(rds_hooks.ca().ca_file)) as conn:
        assert conn.info.pgconn.ssl_in_use
        assert conn.execute("SHOW log_min_duration_statement").fetchone()[0] == "1s"
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(**conninfo, sslmode="disable")

    inst = rds_hooks.find(REGION, f"db-{suffix}")
    assert inst is not None
    data = inst.base
    stacks.delete(stack["StackName"], region=REGION)
    assert rds_hooks.find(REGION, f"db-{suffix}") is None
    assert not data.exists()
