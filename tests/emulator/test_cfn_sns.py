"""AWS::SNS::Subscription and AWS::SNS::TopicPolicy through CloudFormation."""

from __future__ import annotations

import json
from typing import Any

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest


def test_sns_subscription_and_topic_policy(stacks: Stacks) -> None:
    sns = stacks.factory.client("sns", REGION)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Alarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": "*",
            }
        ],
    }
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "Email": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "email",
                    "Endpoint": "oncall@example.com",
                },
            },
            "Policy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": policy},
            },
        },
        "Outputs": {"Topic": {"Value": {"Ref": "Topic"}}, "Sub": {"Value": {"Ref": "Email"}}},
    }
    stack = stacks.create(template)
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])
    subs = sns.list_subscriptions_by_topic(TopicArn=out["Topic"])["Subscriptions"]
    assert [(s["SubscriptionArn"], s["Protocol"], s["Endpoint"]) for s in subs] == [
        (out["Sub"], "email", "oncall@example.com")
    ]
    attrs = sns.get_topic_attributes(TopicArn=out["Topic"])["Attributes"]
    assert json.loads(attrs["Policy"])["Statement"][0]["Sid"] == "Alarms"

    without = json.loads(json.dumps(template))
    del without["Resources"]["Email"], without["Resources"]["Policy"]
    del without["Outputs"]["Sub"]
    stacks.assert_status(stacks.update(stack["StackName"], without), "UPDATE_COMPLETE")
    assert sns.list_subscriptions_by_topic(TopicArn=out["Topic"])["Subscriptions"] == []
    attrs = sns.get_topic_attributes(TopicArn=out["Topic"])["Attributes"]
    assert json.loads(attrs["Policy"])["Statement"][0]["Sid"] == "__default_statement_ID"
