"""What AWS tells a person, outside Prefect: the front door's errors and throttles, and the bill.

Prefect's automations (automations.yaml) watch the runs; they cannot see the front door, a
Lambda that ENTSO-E calls directly, nor what the account costs. Both go to one SNS topic
with an email subscription to the alert address (AWS mails a confirmation link first: the
subscription delivers nothing until someone clicks it). Each alarm's description links its
runbook in RUNBOOK.md, so the email says what to do.

The budget covers the whole account: a budget filtered by the project tag needs that tag
activated as a cost allocation tag, which only the payer account can do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

import components

PERIOD_S = 300  # CloudWatch's Lambda metrics come per minute; five minutes smooths a single retry
# (metric, threshold in PERIOD_S, runbook anchor): any error is a message ENTSO-E may send again
# and again; a throttle is a message refused at the door (reserved concurrency or the account's);
# a function-URL 4xx is a request refused, among them a push over AWS's 6 MB that AWS answers
# itself, before the handler (Lambda Developer Guide, "Monitoring Lambda function URLs").
ALARMS = (
    ("Errors", 1, "front-door-errors"),
    ("Throttles", 1, "front-door-errors"),
    ("Url4xxCount", 1, "front-door-errors"),
)
BUDGET_WARNINGS = ((80, "ACTUAL"), (100, "FORECASTED"), (100, "ACTUAL"))  # percent of the month's amount


@dataclass
class Monitoring:
    topic: aws.sns.Topic
    alarms: list[aws.cloudwatch.MetricAlarm]
    budget: aws.budgets.Budget


def runbook_url(repository: str, anchor: str) -> str:
    """The runbook section on GitHub, in the rendered repository (its RUNBOOK.md)."""
    return f"https://github.com/{repository}/blob/main/RUNBOOK.md#{anchor}"


def topic_policy(topic_arn: str, account_id: str) -> str:
    """CloudWatch alarms and AWS Budgets of this account may publish; nobody else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AlarmsAndBudgetsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )


def monitoring(
    project: str,
    account_id: str,
    repository: str,
    alert_email: str,
    function_name: pulumi.Input[str],
    monthly_budget_usd: float,
) -> Monitoring:
    tags = components.tags(project, "monitoring")
    topic = aws.sns.Topic(f"{project}-alerts", name=f"{project}-alerts", tags=tags)
    aws.sns.TopicPolicy(
        f"{project}-alerts", arn=topic.arn, policy=topic.arn.apply(lambda arn: topic_policy(arn, account_id))
    )
    aws.sns.TopicSubscription(f"{project}-alerts-email", topic=topic.arn, protocol="email", endpoint=alert_email)
    alarms = [
        aws.cloudwatch.MetricAlarm(
            f"{project}-front-door-{metric.lower()}",
            name=f"{project}-front-door-{metric.lower()}",
            alarm_description=f"The front door (Lambda) reported {metric}: runbook {runbook_url(repository, anchor)}",
            namespace="AWS/Lambda",
            metric_name=metric,
            dimensions={"FunctionName": function_name},
            statistic="Sum",
            period=PERIOD_S,
            evaluation_periods=1,
            threshold=threshold,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",  # no invocation, no error
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags=tags,
        )
        for metric, threshold, anchor in ALARMS
    ]
    budget = aws.budgets.Budget(
        f"{project}-monthly",
        name=f"{project}-monthly",
        account_id=account_id,
        budget_type="COST",
        limit_amount=f"{monthly_budget_usd:.2f}",
        limit_unit="USD",
        time_unit="MONTHLY",
        notifications=[
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                threshold=percent,
                threshold_type="PERCENTAGE",
                notification_type=kind,
                subscriber_sns_topic_arns=[topic.arn],
            )
            for percent, kind in BUDGET_WARNINGS
        ],
        tags=tags,
    )
    return Monitoring(topic, alarms, budget)
