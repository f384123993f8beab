"""moto faults fixed in-process: failure statuses, delete order, KMS policies, RDS Refs, route tables."""

from __future__ import annotations

import json
import textwrap
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamflix_dr.template import to_json
from streamflix_dr_emulator.fixes.delete_order import delete_order, references

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest


def param(name: str, value: str = "v") -> dict[str, Any]:
    return {"Type": "AWS::SSM::Parameter", "Properties": {"Name": name, "Type": "String", "Value": value}}


# --- unknown types and failure statuses ----------------------------------------------------------


def test_unknown_type_fails_the_create_and_rolls_back(stacks: Stacks) -> None:
    ssm = stacks.factory.client("ssm", REGION)
    name = f"/fixes/{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {
            "First": param(name),
            "Odd": {"Type": "AWS::Made::Up", "DependsOn": "First", "Properties": {"X": 1}},
        },
        "Outputs": {"P": {"Value": {"Ref": "First"}}},
    }
    stack = stacks.create(template)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "AWS::Made::Up" in stack["StackStatusReason"]
    assert "[Odd]" in stack["StackStatusReason"]
    assert "Outputs" not in stack
    events = stacks.events(stack["StackName"])
    assert [e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "CREATE_FAILED"] == ["Odd"]
    assert {e["ResourceStatus"] for e in events} >= {"ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"}
    with pytest.raises(ClientError):  # what was created before the failure is rolled back
        ssm.get_parameter(Name=name)


def test_update_with_unknown_type_ends_in_update_rollback_complete(stacks: Stacks) -> None:
    name = f"/fixes/{uuid.uuid4().hex[:8]}"
    stack = stacks.create({"Resources": {"First": param(name)}})
    stacks.assert_status(stack)
    bad = {"Resources": {"First": param(name), "Odd": {"Type": "AWS::Made::Up", "Properties": {}}}}
    stack = stacks.update(stack["StackName"], bad)
    stacks.assert_status(stack, "UPDATE_ROLLBACK_COMPLETE")
    assert "AWS::Made::Up" in stack["StackStatusReason"]


def test_change_set_execution_failure_is_a_status_not_an_error(stacks: Stacks) -> None:
    cfn = stacks.cfn()
    name = f"t-{uuid.uuid4().hex[:10]}"
    template = {"Resources": {"Odd": {"Type": "AWS::Made::Up", "Properties": {}}}}
    cs = cfn.create_change_set(
        StackName=name, ChangeSetName="first", TemplateBody=to_json(template), ChangeSetType="CREATE"
    )
    stacks.created.append((REGION, name))
    cfn.execute_change_set(ChangeSetName=cs["Id"])
    stack = stacks.describe(name)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "AWS::Made::Up" in stack["StackStatusReason"]
    assert cfn.describe_change_set(ChangeSetName=cs["Id"])["ExecutionStatus"] == "EXECUTE_FAILED"


def test_change_set_update_drives_the_project_models(stacks: Stacks) -> None:
    cfn = stacks.cfn()
    secret = f"fixes/{uuid.uuid4().hex[:8]}"

    def tpl(desc: str) -> str:
        return to_json(
            {
                "Resources": {
                    "S": {
                        "Type": "AWS::SecretsManager::Secret",
                        "Properties": {"Name": secret, "SecretString": "x", "Description": desc},
                    }
                }
            }
        )

    stack = stacks.create(json.loads(tpl("one")))
    stacks.assert_status(stack)
    cs = cfn.create_change_set(
        StackName=stack["StackName"], ChangeSetName="two", TemplateBody=tpl("two"), ChangeSetType="UPDATE"
    )
    cfn.execute_change_set(ChangeSetName=cs["Id"])
    stacks.assert_status(stacks.describe(stack["StackName"]), "UPDATE_COMPLETE")
    assert (
        stacks.factory.client("secretsmanager", REGION).describe_secret(SecretId=secret)["Description"]
        == "two"
    )


def test_failed_delete_leaves_the_stack_in_delete_failed(stacks: Stacks) -> None:
    code = textwrap.dedent(
        """
        import cfnresponse

        def handler(event, context):
            status = cfnresponse.FAILED if event["RequestType"] == "Delete" else cfnresponse.SUCCESS
            cfnresponse.send(event, context, status, {}, "sticky", reason="refusing to delete")
        """
    )
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ]
                    }
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": code},
                },
            },
            "Sticky": {
                "Type": "Custom::Sticky",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}},
            },
        }
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    stacks.delete(stack["StackName"])
    after = stacks.describe(stack["StackName"])
    stacks.assert_status(after, "DELETE_FAILED")
    assert "[Sticky]" in after["StackStatusReason"]
    assert "refusing to delete" in after["StackStatusReason"]
    # Nothing the custom resource depends on was deleted before it.
    assert stacks.factory.client("lambda", REGION).get_function(
        FunctionName=stacks.physical_id(stack["StackName"], "Fn")
    )


def test_delete_order_waves() -> None:
    resources = {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Role": {"Type": "AWS::IAM::Role"},
        "Empty": {
            "Type": "Custom::EmptyBucket",
            "Properties": {"ServiceToken": {"Fn::GetAtt": "Fn.Arn"}, "BucketName": {"Fn::Sub": "${Bucket}"}},
        },
        "Late": {"Type": "AWS::SSM::Parameter", "DependsOn": ["Empty"]},
    }
    assert references(resources["Empty"]) == {"Fn", "Bucket"}
    assert delete_order(resources, set(resources)) == [["Late"], ["Empty"], ["Bucket", "Fn"], ["Role"]]


# --- KMS ---------------------------------------------------------------------------------------------


def test_kms_key_policy_object_is_stored_as_json(stacks: Stacks) -> None:
    kms = stacks.factory.client("kms", REGION)

    def tpl(sid: str) -> dict[str, Any]:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
        return {
            "Resources": {
                "Key": {
                    "Type": "AWS::KMS::Key",
                    "Properties": {
                        "Description": "data key",
                        "KeyPolicy": policy,
                        "Tags": [{"Key": "app", "Value": "sf"}],
                    },
                }
            },
            "Outputs": {"KeyId": {"Value": {"Ref": "Key"}}, "Arn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
        }

    stack = stacks.create(tpl("Root"))
    stacks.assert_status(stack)
    key_id = stacks.outputs(stack["StackName"])["KeyId"]
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["Description"] == "data key"
    assert (
        json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])["Statement"][0]["Sid"]
        == "Root"
    )
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
    assert tags["app"] == "sf"

    stacks.assert_status(stacks.update(stack["StackName"], tpl("Admins")), "UPDATE_COMPLETE")
    assert stacks.outputs(stack["StackName"])["KeyId"] == key_id
    assert (
        json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])["Statement"][0]["Sid"]
        == "Admins"
    )


# --- RDS ---------------------------------------------------------------------------------------------


def rds_template(instance_class: str = "db.t3.micro") -> dict[str, Any]:
    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.50.0.0/16"}},
            "SubA": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": "10.50.1.0/24",
                    "AvailabilityZone": "us-east-1a",
                },
            },
            "SubB": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": "10.50.2.0/24",
                    "AvailabilityZone": "us-east-1b",
                },
            },
            "DbSubnets": {
                "Type": "AWS::RDS::DBSubnetGroup",
                "Properties": {
                    "DBSubnetGroupDescription": "db",
                    "SubnetIds": [{"Ref": "SubA"}, {"Ref": "SubB"}],
                },
            },
            "DbParams": {
                "Type": "AWS::RDS::DBParameterGroup",
                "Properties": {
                    "Description": "pg",
                    "Family": "postgres16",
                    "Parameters": {"rds.force_ssl": "1"},
                },
            },
            "Db": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "Engine": "postgres",
                    "DBInstanceClass": instance_class,
                    "AllocatedStorage": "20",
                    "MasterUsername": "streamflix",
                    "MasterUserPassword": "not-a-real-one-1",
                    "DBSubnetGroupName": {"Ref": "DbSubnets"},
                    "DBParameterGroupName": {"Ref": "DbParams"},
                    "BackupRetentionPeriod": 7,
                },
            },
        },
        "Outputs": {
            "Db": {"Value": {"Ref": "Db"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Db", "DBInstanceArn"]}},
            "Address": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}},
            "Params": {"Value": {"Ref": "DbParams"}},
            "Subnets": {"Value": {"Ref": "DbSubnets"}},
        },
    }


def test_rds_groups_by_ref_and_instance_attributes(stacks: Stacks) -> None:
    rds = stacks.factory.client("rds", REGION)
    stack = stacks.create(rds_template())
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    assert stacks.physical_id(stack["StackName"], "DbParams") == out["Params"] != ""
    assert stacks.physical_id(stack["StackName"], "DbSubnets") == out["Subnets"] != ""

    db = rds.describe_db_instances(DBInstanceIdentifier=out["Db"])["DBInstances"][0]
    assert db["DBInstanceArn"] == out["Arn"]
    assert db["Endpoint"]["Address"] == out["Address"]
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == out["Params"]
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == out["Subnets"]
    assert (
        rds.describe_db_parameter_groups(DBParameterGroupName=out["Params"])["DBParameterGroups"][0][
            "DBParameterGroupFamily"
        ]
        == "postgres16"
    )

    stacks.assert_status(stacks.update(stack["StackName"], rds_template("db.r6g.large")), "UPDATE_COMPLETE")
    db = rds.describe_db_instances(DBInstanceIdentifier=out["Db"])["DBInstances"][0]
    assert db["DBInstanceClass"] == "db.r6g.large"
    assert stacks.outputs(stack["StackName"])["Db"] == out["Db"]  # updated in place, not dropped


# --- EC2 route table associations ----------------------------------------------------------------------


def test_subnet_route_table_association_is_visible(stacks: Stacks) -> None:
    ec2 = stacks.factory.client("ec2", REGION)
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.60.0.0/16"}},
            "Sub": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.60.1.0/24"},
            },
            "Rt": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "Assoc": {
                "Type": "AWS::EC2::SubnetRouteTableAssociation",
                "Properties": {"SubnetId": {"Ref": "Sub"}, "RouteTableId": {"Ref": "Rt"}},
            },
        },
        "Outputs": {
            "Rt": {"Value": {"Ref": "Rt"}},
            "Sub": {"Value": {"Ref": "Sub"}},
            "Assoc": {"Value": {"Ref": "Assoc"}},
        },
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    table = ec2.describe_route_tables(RouteTableIds=[out["Rt"]])["RouteTables"][0]
    assocs = [(a["SubnetId"], a["RouteTableAssociationId"]) for a in table["Associations"] if "SubnetId" in a]
    assert assocs == [(out["Sub"], out["Assoc"])]
    assert out["Assoc"].startswith("rtbassoc-")


# --- conditions on update, change set outputs, lazy resources ------------------------------------


def phased_template() -> dict[str, Any]:
    return {
        "Parameters": {
            "Phase": {"Type": "String", "AllowedValues": ["base", "full"]},
            "Prefix": {"Type": "String"},
        },
        "Conditions": {"IsFull": {"Fn::Equals": [{"Ref": "Phase"}, "full"]}},
        "Resources": {
            "Always": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": {"Fn::Sub": "${Prefix}/always"},
                    "Type": "String",
                    "Value": {"Fn::If": ["IsFull", "full-value", "base-value"]},
                },
            },
            "OnlyFull": {
                "Type": "AWS::SSM::Parameter",
                "Condition": "IsFull",
                "Properties": {"Name": {"Fn::Sub": "${Prefix}/full"}, "Type": "String", "Value": "x"},
            },
        },
        "Outputs": {"Always": {"Value": {"Ref": "Always"}}},
    }


def test_update_follows_conditions_both_ways(stacks: Stacks) -> None:
    ssm = stacks.factory.client("ssm", REGION)
    prefix = f"/phase/{uuid.uuid4().hex[:8]}"
    stack = stacks.create(phased_template(), parameters={"Phase": "base", "Prefix": prefix})
    stacks.assert_status(stack)
    assert ssm.get_parameter(Name=f"{prefix}/always")["Parameter"]["Value"] == "base-value"
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=f"{prefix}/full")

    # Same template, new parameter: the conditional resource appears, the Fn::If value changes.
    stack = stacks.update(
        stack["StackName"], phased_template(), parameters={"Phase": "full", "Prefix": prefix}
    )
    stacks.assert_status(stack, "UPDATE_COMPLETE")
    assert ssm.get_parameter(Name=f"{prefix}/full")["Parameter"]["Value"] == "x"
    assert ssm.get_parameter(Name=f"{prefix}/always")["Parameter"]["Value"] == "full-value"

    stack = stacks.update(
        stack["StackName"], phased_template(), parameters={"Phase": "base", "Prefix": prefix}
    )
    stacks.assert_status(stack, "UPDATE_COMPLETE")
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=f"{prefix}/full")


def test_change_set_lists_condition_changes_and_execution_sets_outputs(stacks: Stacks) -> None:
    cfn = stacks.cfn()
    prefix = f"/cs/{uuid.uuid4().hex[:8]}"
    name = f"t-{uuid.uuid4().hex[:10]}"
    body = to_json(phased_template())

    def params(phase: str) -> list[dict[str, str]]:
        return [
            {"ParameterKey": "Phase", "ParameterValue": phase},
            {"ParameterKey": "Prefix", "ParameterValue": prefix},
        ]

    first = cfn.create_change_set(
        StackName=name,
        ChangeSetName="create",
        TemplateBody=body,
        Parameters=params("base"),
        ChangeSetType="CREATE",
    )
    stacks.created.append((REGION, name))
    changes = cfn.describe_change_set(ChangeSetName=first["Id"])["Changes"]
    assert sorted(c["ResourceChange"]["LogicalResourceId"] for c in changes) == ["Always"]
    cfn.execute_change_set(ChangeSetName=first["Id"])
    stack = stacks.describe(name)
    stacks.assert_status(stack)
    assert stacks.outputs(name) == {"Always": f"{prefix}/always"}  # outputs exist after a CREATE change set

    second = cfn.create_change_set(
        StackName=name,
        ChangeSetName="full",
        TemplateBody=body,
        Parameters=params("full"),
        ChangeSetType="UPDATE",
    )
    changes = {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]["Action"]
        for c in cfn.describe_change_set(ChangeSetName=second["Id"])["Changes"]
    }
    assert changes == {"OnlyFull": "Add", "Always": "Modify"}
    cfn.execute_change_set(ChangeSetName=second["Id"])
    stacks.assert_status(stacks.describe(name), "UPDATE_COMPLETE")
    assert (
        stacks.factory.client("ssm", REGION).get_parameter(Name=f"{prefix}/full")["Parameter"]["Value"] == "x"
    )


def test_listing_a_deleted_stack_does_not_recreate_its_resources(stacks: Stacks) -> None:
    ssm = stacks.factory.client("ssm", REGION)
    prefix = f"/gone/{uuid.uuid4().hex[:8]}"
    stack = stacks.create(phased_template(), parameters={"Phase": "full", "Prefix": prefix})
    stacks.assert_status(stack)
    stacks.delete(stack["StackName"])
    stacks.cfn().describe_stack_resources(StackName=stack["StackId"])
    stacks.describe(stack["StackId"])
    for suffix in ("always", "full"):
        with pytest.raises(ClientError):
            ssm.get_parameter(Name=f"{prefix}/{suffix}")


# --- S3 TLS-only policies, EFS properties, EC2 deletes ------------------------------------------------------


def test_tls_only_bucket_policy_does_not_block_sdk_calls(stacks: Stacks) -> None:
    s3 = stacks.factory.client("s3", REGION)
    bucket = f"tls-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"x"
    # An unconditional Deny still denies.
    policy["Statement"][0].pop("Condition")
    policy["Statement"][0]["Action"] = "s3:PutObject"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="b.txt", Body=b"x")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_efs_access_point_ref_and_replication_properties(stacks: Stacks) -> None:
    peer = "eu-west-2"
    dest = stacks.create(
        {
            "Resources": {
                "Fs": {
                    "Type": "AWS::EFS::FileSystem",
                    "Properties": {
                        "Encrypted": True,
                        "FileSystemProtection": {"ReplicationOverwriteProtection": "DISABLED"},
                    },
                }
            },
            "Outputs": {"Fs": {"Value": {"Ref": "Fs"}}},
        },
        region=peer,
    )
    stacks.assert_status(dest)
    dest_fs = stacks.outputs(dest["StackName"], region=peer)["Fs"]

    def source(replicate: bool) -> dict[str, Any]:
        fs_props: dict[str, Any] = {"Encrypted": True}
        if replicate:
            fs_props["ReplicationConfiguration"] = {
                "Destinations": [{"Region": peer, "FileSystemId": dest_fs}]
            }
        return {
            "Resources": {
                "Fs": {"Type": "AWS::EFS::FileSystem", "Properties": fs_props},
                "Ap": {"Type": "AWS::EFS::AccessPoint", "Properties": {"FileSystemId": {"Ref": "Fs"}}},
            },
            "Outputs": {
                "Fs": {"Value": {"Ref": "Fs"}},
                "Ap": {"Value": {"Ref": "Ap"}},
                "ApArn": {"Value": {"Fn::GetAtt": ["Ap", "Arn"]}},
            },
        }

    src = stacks.create(source(replicate=False))
    stacks.assert_status(src)
    out = stacks.outputs(src["StackName"])
    assert out["Ap"].startswith("fsap-")
    assert out["ApArn"].endswith(f":access-point/{out['Ap']}")

    efs = stacks.factory.client("efs", REGION)
    stacks.assert_status(stacks.update(src["StackName"], source(replicate=True)), "UPDATE_COMPLETE")
    reps = efs.describe_replication_configurations(FileSystemId=out["Fs"])["Replications"]
    assert [d["FileSystemId"] for d in reps[0]["Destinations"]] == [dest_fs]

    # As on AWS, neither side of a replication can be deleted: the stack delete fails with the reason
    # and the replication stays (it is never removed silently).
    stacks.delete(src["StackName"])
    failed = stacks.describe(src["StackId"])
    stacks.assert_status(failed, "DELETE_FAILED")
    assert (
        f"You cannot delete file system '{out['Fs']}' because it is in a replication configuration"
        in (failed["StackStatusReason"])
    )
    stacks.delete(dest["StackName"], region=peer)
    failed = stacks.describe(dest["StackId"], region=peer)
    stacks.assert_status(failed, "DELETE_FAILED")
    assert f"'{dest_fs}' because it is in a replication configuration" in failed["StackStatusReason"]
    assert efs.describe_replication_configurations(FileSystemId=out["Fs"])["Replications"]

    efs.delete_replication_configuration(SourceFileSystemId=out["Fs"])
    stacks.delete(src["StackName"])
    assert stacks.describe(src["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError) as err:
        efs.describe_file_systems(FileSystemId=out["Fs"])
    assert err.value.response["Error"]["Code"] == "FileSystemNotFound"
    stacks.delete(dest["StackName"], region=peer)
    assert stacks.describe(dest["StackId"], region=peer)["StackStatus"] == "DELETE_COMPLETE"


def test_network_stack_deletes_completely(stacks: Stacks) -> None:
    ec2 = stacks.factory.client("ec2", REGION)
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.70.0.0/16"}},
            "Igw": {"Type": "AWS::EC2::InternetGateway", "Properties": {}},
            "Attach": {
                "Type": "AWS::EC2::VPCGatewayAttachment",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Igw"}},
            },
            "Sub": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.70.1.0/24"},
            },
            "Rt": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "Default": {
                "Type": "AWS::EC2::Route",
                "DependsOn": "Attach",
                "Properties": {
                    "RouteTableId": {"Ref": "Rt"},
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "GatewayId": {"Ref": "Igw"},
                },
            },
            "Assoc": {
                "Type": "AWS::EC2::SubnetRouteTableAssociation",
                "Properties": {"SubnetId": {"Ref": "Sub"}, "RouteTableId": {"Ref": "Rt"}},
            },
            "Eip": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
            "Nat": {
                "Type": "AWS::EC2::NatGateway",
                "Properties": {
                    "SubnetId": {"Ref": "Sub"},
                    "AllocationId": {"Fn::GetAtt": ["Eip", "AllocationId"]},
                },
            },
            "S3Endpoint": {
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "ServiceName": "com.amazonaws.us-east-1.s3",
                    "RouteTableIds": [{"Ref": "Rt"}],
                },
            },
        },
        "Outputs": {"Vpc": {"Value": {"Ref": "Vpc"}}, "Igw": {"Value": {"Ref": "Igw"}}},
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    stacks.delete(stack["StackName"])
    stacks.assert_status(stacks.describe(stack["StackId"]), "DELETE_COMPLETE")
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [out["Vpc"]]}])["Vpcs"] == []
    assert (
        ec2.describe_internet_gateways(Filters=[{"Name": "internet-gateway-id", "Values": [out["Igw"]]}])[
            "InternetGateways"
        ]
        == []
    )


def test_comma_list_parameters_round_trip_through_describe_and_change_sets(stacks: Stacks) -> None:
    template = {
        "Parameters": {"Cidrs": {"Type": "CommaDelimitedList"}, "Tag": {"Type": "String"}},
        "Resources": {
            "P": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": {"Fn::Sub": "/cidrs/${Tag}"},
                    "Type": "String",
                    "Value": {"Fn::Select": [1, {"Ref": "Cidrs"}]},
                },
            }
        },
    }
    tag = uuid.uuid4().hex[:8]
    stack = stacks.create(template, parameters={"Cidrs": "10.0.0.0/24,10.0.1.0/24", "Tag": tag})
    stacks.assert_status(stack)
    shown = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert shown["Cidrs"] == "10.0.0.0/24,10.0.1.0/24"  # as given, not a Python list repr

    cfn = stacks.cfn()
    cs = cfn.create_change_set(
        StackName=stack["StackName"],
        ChangeSetName="same",
        TemplateBody=to_json(template),
        Parameters=[
            {"ParameterKey": "Cidrs", "UsePreviousValue": True},
            {"ParameterKey": "Tag", "ParameterValue": f"{tag}b"},
        ],
        ChangeSetType="UPDATE",
    )
    changes = cfn.describe_change_set(ChangeSetName=cs["Id"])["Changes"]
    assert [(c["ResourceChange"]["LogicalResourceId"], c["ResourceChange"]["Action"]) for c in changes] == [
        ("P", "Modify")
    ]
    cfn.execute_change_set(ChangeSetName=cs["Id"])
    stack = stacks.describe(stack["StackName"])
    stacks.assert_status(stack, "UPDATE_COMPLETE")
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}[
        "Cidrs"
    ] == "10.0.0.0/24,10.0.1.0/24"


def test_load_balancing_and_health_check_resources_are_deleted(stacks: Stacks) -> None:
    elb = stacks.factory.client("elbv2", REGION)
    r53 = stacks.factory.client("route53", REGION)
    name = f"tg-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.80.0.0/16"}},
            "SubA": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": "10.80.1.0/24",
                    "AvailabilityZone": "us-east-1a",
                },
            },
            "SubB": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": "10.80.2.0/24",
                    "AvailabilityZone": "us-east-1b",
                },
            },
            "Lb": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Subnets": [{"Ref": "SubA"}, {"Ref": "SubB"}]},
            },
            "Tg": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    "Name": name,
                    "Port": 80,
                    "Protocol": "HTTP",
                    "VpcId": {"Ref": "Vpc"},
                    "TargetType": "ip",
                },
            },
            "Listener": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {
                    "LoadBalancerArn": {"Ref": "Lb"},
                    "Port": 80,
                    "Protocol": "HTTP",
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Tg"}}],
                },
            },
            "Hc": {
                "Type": "AWS::Route53::HealthCheck",
                "Properties": {
                    "HealthCheckConfig": {
                        "Type": "HTTPS",
                        "FullyQualifiedDomainName": "example.com",
                        "Port": 443,
                    }
                },
            },
        },
        "Outputs": {"Hc": {"Value": {"Ref": "Hc"}}},
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    hc = stacks.outputs(stack["StackName"])["Hc"]
    stacks.delete(stack["StackName"])
    stacks.assert_status(stacks.describe(stack["StackId"]), "DELETE_COMPLETE")
    assert name not in [t["TargetGroupName"] for t in elb.describe_target_groups()["TargetGroups"]]
    assert hc not in [h["Id"] for h in r53.list_health_checks()["HealthChecks"]]
    again = stacks.create(template)  # the same names can be deployed again
    stacks.assert_status(again)


def test_cross_region_read_replica_can_be_deleted(factory: Any) -> None:
    primary = factory.client("rds", "eu-west-2")
    dr = factory.client("rds", REGION)
    name = f"db-{uuid.uuid4().hex[:8]}"
    source = primary.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="u",
        MasterUserPassword="password-123",
    )["DBInstance"]
    dr.create_db_instance_read_replica(
        DBInstanceIdentifier=f"{name}-replica",
        SourceDBInstanceIdentifier=source["DBInstanceArn"],
        SourceRegion="eu-west-2",
    )
    dr.delete_db_instance(DBInstanceIdentifier=f"{name}-replica", SkipFinalSnapshot=True)
    remaining = primary.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    assert remaining.get("ReadReplicaDBInstanceIdentifiers", []) == []


def test_target_group_and_file_system_attributes(stacks: Stacks) -> None:
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.90.0.0/16"}},
            "Tg": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {"Port": 80, "Protocol": "HTTP", "VpcId": {"Ref": "Vpc"}, "TargetType": "ip"},
            },
            "Fs": {"Type": "AWS::EFS::FileSystem", "Properties": {}},
        },
        "Outputs": {
            "TgArn": {"Value": {"Ref": "Tg"}},
            "TgFull": {"Value": {"Fn::GetAtt": ["Tg", "TargetGroupFullName"]}},
            "Fs": {"Value": {"Ref": "Fs"}},
            "FsArn": {"Value": {"Fn::GetAtt": ["Fs", "Arn"]}},
        },
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    assert out["TgFull"].startswith("targetgroup/")
    assert out["TgArn"].endswith(f":{out['TgFull']}")
    assert out["FsArn"].endswith(f":file-system/{out['Fs']}")


def test_bucket_and_log_group_properties_land(stacks: Stacks) -> None:
    template = {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}},
            },
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                },
            },
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": f"/kms/{uuid.uuid4().hex[:8]}",
                    "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]},
                },
            },
        },
        "Outputs": {
            "Bucket": {"Value": {"Ref": "Bucket"}},
            "Logs": {"Value": {"Ref": "Logs"}},
            "Key": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}},
        },
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    s3 = stacks.factory.client("s3", REGION)
    assert s3.get_bucket_versioning(Bucket=out["Bucket"])["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=out["Bucket"])["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    groups = stacks.factory.client("logs", REGION).describe_log_groups(logGroupNamePrefix=out["Logs"])[
        "logGroups"
    ]
    assert groups[0]["kmsKeyId"] == out["Key"]


def test_a_deleted_backup_plan_name_can_be_used_again(factory: Any) -> None:
    backup = factory.client("backup", "us-east-1")
    plan = {
        "BackupPlanName": "streamflix-plan-reuse",
        "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "v"}],
    }
    first = backup.create_backup_plan(BackupPlan=plan)["BackupPlanId"]
    with pytest.raises(ClientError) as err:
        backup.create_backup_plan(BackupPlan=plan)
    assert err.value.response["Error"]["Code"] == "AlreadyExistsException"
    backup.delete_backup_plan(BackupPlanId=first)
    second = backup.create_backup_plan(BackupPlan=plan)["BackupPlanId"]
    assert second != first
    # The deleted plan is still listed with IncludeDeleted, as on AWS.
    listed = backup.list_backup_plans(IncludeDeleted=True)["BackupPlansList"]
    assert {first, second} <= {p["BackupPlanId"] for p in listed}
    backup.delete_backup_plan(BackupPlanId=second)


def test_cloudformation_encryption_settings_reach_dynamodb_and_ecr(stacks: Any) -> None:
    template = {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}},
            },
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "streamflix-sse-check",
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "SSESpecification": {
                        "SSEEnabled": True,
                        "SSEType": "KMS",
                        "KMSMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]},
                    },
                },
            },
            "Repo": {
                "Type": "AWS::ECR::Repository",
                "Properties": {
                    "RepositoryName": "streamflix-enc-check",
                    "EncryptionConfiguration": {
                        "EncryptionType": "KMS",
                        "KmsKey": {"Fn::GetAtt": ["Key", "Arn"]},
                    },
                },
            },
        },
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    key_arn = stacks.outputs(stack["StackName"])["KeyArn"]
    sse = stacks.factory.client("dynamodb", "us-east-1").describe_table(TableName="streamflix-sse-check")[
        "Table"
    ]["SSEDescription"]
    assert (sse["Status"], sse["SSEType"], sse["KMSMasterKeyArn"]) == ("ENABLED", "KMS", key_arn)
    repo = stacks.factory.client("ecr", "us-east-1").describe_repositories(
        repositoryNames=["streamflix-enc-check"]
    )["repositories"][0]
    assert repo["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": key_arn}
    stacks.delete(stack["StackName"])


def test_ecs_cluster_settings_tags_and_task_definition_efs_volume_reach_the_service(stacks: Any) -> None:
    volume = {
        "Name": "media",
        "EFSVolumeConfiguration": {
            "FilesystemId": "fs-12345678",
            "TransitEncryption": "ENABLED",
            "AuthorizationConfig": {"AccessPointId": "fsap-1234567890abcdef0", "IAM": "ENABLED"},
        },
    }

    def template(image: str) -> dict[str, Any]:
        return {
            "Resources": {
                "Cluster": {
                    "Type": "AWS::ECS::Cluster",
                    "Properties": {
                        "ClusterName": "streamflix-ecs-fix",
                        "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
                        "Tags": [{"Key": "Environment", "Value": "test"}],
                    },
                },
                "Task": {
                    "Type": "AWS::ECS::TaskDefinition",
                    "Properties": {
                        "Family": "streamflix-ecs-fix",
                        "RequiresCompatibilities": ["FARGATE"],
                        "NetworkMode": "awsvpc",
                        "Cpu": "512",
                        "Memory": "1024",
                        "Volumes": [volume],
                        "ContainerDefinitions": [{"Name": "app", "Image": image}],
                    },
                },
            }
        }

    stack = stacks.create(template("app:1"))
    stacks.assert_status(stack)
    ecs = stacks.factory.client("ecs", "us-east-1")
    cluster = ecs.describe_clusters(clusters=["streamflix-ecs-fix"], include=["SETTINGS", "TAGS"])[
        "clusters"
    ][0]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert cluster["tags"] == [{"key": "Environment", "value": "test"}]
    td = ecs.describe_task_definition(taskDefinition="streamflix-ecs-fix")["taskDefinition"]
    assert (td["requiresCompatibilities"], td["networkMode"], td["cpu"]) == (["FARGATE"], "awsvpc", "512")
    # rootDirectory defaults to "/" (the file system's root), which an access point requires anyway.
    assert td["volumes"][0]["efsVolumeConfiguration"].pop("rootDirectory", "/") == "/"
    assert td["volumes"] == [
        {
            "name": "media",
            "efsVolumeConfiguration": {
                "fileSystemId": "fs-12345678",
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"accessPointId": "fsap-1234567890abcdef0", "iam": "ENABLED"},
            },
        }
    ]
    # An update registers a new revision with the same settings and deregisters the old one.
    stacks.assert_status(stacks.update(stack["StackName"], template("app:2")), "UPDATE_COMPLETE")
    td2 = ecs.describe_task_definition(taskDefinition="streamflix-ecs-fix")["taskDefinition"]
    assert td2["revision"] == td["revision"] + 1
    td2["volumes"][0]["efsVolumeConfiguration"].pop("rootDirectory", None)
    assert td2["volumes"] == td["volumes"] and td2["containerDefinitions"][0]["image"] == "app:2"
    old = ecs.describe_task_definition(taskDefinition=td["taskDefinitionArn"])["taskDefinition"]
    assert old["status"] == "INACTIVE"
    stacks.delete(stack["StackName"])
