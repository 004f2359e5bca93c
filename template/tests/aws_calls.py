"""Every AWS call `pulumi up` and `pulumi destroy` make for the pipeline stack, per resource type.

pulumi-aws bridges hashicorp/terraform-provider-aws: each resource type's create, read and
delete are the provider's resourceXCreate / resourceXRead / resourceXDelete (cited per row as
file:function, under internal/service/). "create" lists the create's own calls: the create
phase is those and the read after them; an update with no change is a refresh, the read
alone; a destroy is the delete (its waiters read).
Each call names the action, the resource ARN AWS authorizes it on, and the request's condition
keys, so tests/test_aws_calls.py can evaluate it against the deploy role's policy.

`{region}`, `{account}` and `{project}` are filled per project; `{id}` stands for any id AWS
gives. The implied calls AWS authorizes besides the API action are rows of their own: the
ec2:CreateTags of a TagSpecification, the <service>:TagResource of tags given at create, the
iam:PassRole of a role handed to Lambda, ECS's iam:CreateServiceLinkedRole on the first cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PHASES = ("create", "read", "delete")


@dataclass(frozen=True)
class Call:
    action: str
    resource: str
    source: str
    context: dict[str, str] = field(default_factory=dict)

    def filled(self, **names: str) -> Call:
        return Call(
            self.action,
            self.resource.format(**names),
            self.source,
            {key.format(**names): value.format(**names) for key, value in self.context.items()},
        )


EC2 = "arn:aws:ec2:{region}:{account}"
# The request carries the project tag (TagSpecifications); the resource carries it once made.
TAGGED_REQUEST = {"aws:RequestTag/project": "{project}", "aws:RequestedRegion": "{region}"}
TAGGED_RESOURCE = {"aws:ResourceTag/project": "{project}", "aws:RequestedRegion": "{region}"}
IN_REGION = {"aws:RequestedRegion": "{region}"}


def describe(action: str, source: str) -> Call:
    """An EC2 Describe: no resource type (Service Authorization Reference, EC2)."""
    return Call(action, "*", source, IN_REGION)


def tag_on_create(create_action: str, resource: str, source: str) -> Call:
    return Call("ec2:CreateTags", resource, source, {**TAGGED_REQUEST, "ec2:CreateAction": create_action})


VPC, SUBNET, GATEWAY = f"{EC2}:vpc/vpc-{{id}}", f"{EC2}:subnet/subnet-{{id}}", f"{EC2}:internet-gateway/igw-{{id}}"
ROUTES, GROUP = f"{EC2}:route-table/rtb-{{id}}", f"{EC2}:security-group/sg-{{id}}"
# `{name}`: the resource's own name (or, for a policy, URL or permission, its repository's or function's).
REPOSITORY = "arn:aws:ecr:{region}:{account}:repository/{name}"
CLUSTER = "arn:aws:ecs:{region}:{account}:cluster/{name}"
LOGS = "arn:aws:logs:{region}:{account}:log-group:{name}"
FUNCTION = "arn:aws:lambda:{region}:{account}:function:{name}"
PARAMETER = "arn:aws:ssm:{region}:{account}:parameter{name}"
TOPIC = "arn:aws:sns:{region}:{account}:{name}"
ALARM = "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
BUDGET = "arn:aws:budgets::{account}:budget/{name}"

CALLS: dict[str, dict[str, list[Call]]] = {
    # Provider set-up and the program's data source, once per run, in every phase.
    "provider": {
        # Made once per run, whatever the phase; the create phase adds the read list to its own.
        phase: []
        if phase == "create"
        else [
            Call("sts:GetCallerIdentity", "*", "internal/conns/config.go: ConfigureProvider (the account id)"),
            describe(
                "ec2:DescribeAvailabilityZones",
                "ec2/ec2_availability_zones_data_source.go: dataSourceAvailabilityZonesRead",
            ),
        ]
        for phase in PHASES
    },
    "aws:ec2/vpc:Vpc": {
        "create": [
            Call("ec2:CreateVpc", VPC, "ec2/vpc_.go: resourceVPCCreate", TAGGED_REQUEST),
            tag_on_create("CreateVpc", VPC, "ec2/vpc_.go: resourceVPCCreate (TagSpecifications)"),
            describe("ec2:DescribeVpcs", "ec2/vpc_.go: resourceVPCCreate, waitVPCCreated"),
            Call(
                "ec2:ModifyVpcAttribute",
                VPC,
                "ec2/vpc_.go: resourceVPCCreate, modifyVPCDNSHostnames",
                TAGGED_RESOURCE,
            ),
        ],
        "read": [
            describe("ec2:DescribeVpcs", "ec2/vpc_.go: resourceVPCRead, findVPCByID"),
            describe("ec2:DescribeVpcAttribute", "ec2/vpc_.go: resourceVPCRead (dns hostnames, dns support, NAU)"),
            describe("ec2:DescribeRouteTables", "ec2/vpc_.go: resourceVPCRead, findVPCMainRouteTable"),
            describe("ec2:DescribeSecurityGroups", "ec2/vpc_.go: resourceVPCRead, findVPCDefaultSecurityGroup"),
            describe("ec2:DescribeNetworkAcls", "ec2/vpc_.go: resourceVPCRead, findVPCDefaultNetworkACL"),
        ],
        "delete": [
            Call("ec2:DeleteVpc", VPC, "ec2/vpc_.go: resourceVPCDelete", TAGGED_RESOURCE),
            describe("ec2:DescribeVpcs", "ec2/vpc_.go: resourceVPCDelete, waiting until gone"),
        ],
    },
    "aws:ec2/subnet:Subnet": {
        "create": [
            Call("ec2:CreateSubnet", SUBNET, "ec2/vpc_subnet.go: resourceSubnetCreate", TAGGED_REQUEST),
            Call("ec2:CreateSubnet", VPC, "ec2/vpc_subnet.go: resourceSubnetCreate (the VPC)", TAGGED_REQUEST),
            tag_on_create("CreateSubnet", SUBNET, "ec2/vpc_subnet.go: resourceSubnetCreate (TagSpecifications)"),
            describe("ec2:DescribeSubnets", "ec2/vpc_subnet.go: resourceSubnetCreate, waitSubnetAvailable"),
            Call(
                "ec2:ModifySubnetAttribute",
                SUBNET,
                "ec2/vpc_subnet.go: resourceSubnetCreate, modifySubnetMapPublicIPOnLaunch",
                TAGGED_RESOURCE,
            ),
        ],
        "read": [describe("ec2:DescribeSubnets", "ec2/vpc_subnet.go: resourceSubnetRead, findSubnetByID")],
        "delete": [
            describe("ec2:DescribeNetworkInterfaces", "ec2/vpc_subnet.go: resourceSubnetDelete, deleteLingeringENIs"),
            Call("ec2:DeleteSubnet", SUBNET, "ec2/vpc_subnet.go: resourceSubnetDelete", TAGGED_RESOURCE),
        ],
    },
    "aws:ec2/internetGateway:InternetGateway": {
        "create": [
            Call(
                "ec2:CreateInternetGateway",
                GATEWAY,
                "ec2/vpc_internet_gateway.go: resourceInternetGatewayCreate",
                TAGGED_REQUEST,
            ),
            tag_on_create(
                "CreateInternetGateway", GATEWAY, "ec2/vpc_internet_gateway.go: resourceInternetGatewayCreate"
            ),
            Call(
                "ec2:AttachInternetGateway",
                GATEWAY,
                "ec2/vpc_internet_gateway.go: resourceInternetGatewayCreate, attachInternetGateway",
                TAGGED_RESOURCE,
            ),
            Call(
                "ec2:AttachInternetGateway",
                VPC,
                "ec2/vpc_internet_gateway.go: attachInternetGateway (the VPC)",
                TAGGED_RESOURCE,
            ),
            describe("ec2:DescribeInternetGateways", "ec2/vpc_internet_gateway.go: waitInternetGatewayAttached"),
        ],
        "read": [describe("ec2:DescribeInternetGateways", "ec2/vpc_internet_gateway.go: resourceInternetGatewayRead")],
        "delete": [
            Call(
                "ec2:DetachInternetGateway",
                GATEWAY,
                "ec2/vpc_internet_gateway.go: resourceInternetGatewayDelete, detachInternetGateway",
                TAGGED_RESOURCE,
            ),
            Call(
                "ec2:DetachInternetGateway",
                VPC,
                "ec2/vpc_internet_gateway.go: detachInternetGateway (the VPC)",
                TAGGED_RESOURCE,
            ),
            Call(
                "ec2:DeleteInternetGateway",
                GATEWAY,
                "ec2/vpc_internet_gateway.go: resourceInternetGatewayDelete",
                TAGGED_RESOURCE,
            ),
        ],
    },
    "aws:ec2/routeTable:RouteTable": {
        "create": [
            Call("ec2:CreateRouteTable", ROUTES, "ec2/vpc_route_table.go: resourceRouteTableCreate", TAGGED_REQUEST),
            Call(
                "ec2:CreateRouteTable",
                VPC,
                "ec2/vpc_route_table.go: resourceRouteTableCreate (the VPC)",
                TAGGED_REQUEST,
            ),
            tag_on_create("CreateRouteTable", ROUTES, "ec2/vpc_route_table.go: resourceRouteTableCreate"),
            describe("ec2:DescribeRouteTables", "ec2/vpc_route_table.go: waitRouteTableReady"),
            Call(
                "ec2:CreateRoute",
                ROUTES,
                "ec2/vpc_route_table.go: resourceRouteTableCreate, routeTableAddRoute",
                TAGGED_RESOURCE,
            ),
        ],
        "read": [describe("ec2:DescribeRouteTables", "ec2/vpc_route_table.go: resourceRouteTableRead")],
        "delete": [
            Call(
                "ec2:DisassociateRouteTable",
                ROUTES,
                "ec2/vpc_route_table.go: resourceRouteTableDelete (any association left)",
                TAGGED_RESOURCE,
            ),
            Call("ec2:DeleteRouteTable", ROUTES, "ec2/vpc_route_table.go: resourceRouteTableDelete", TAGGED_RESOURCE),
            describe("ec2:DescribeRouteTables", "ec2/vpc_route_table.go: resourceRouteTableDelete, waiting"),
        ],
    },
    "aws:ec2/routeTableAssociation:RouteTableAssociation": {
        "create": [
            Call(
                "ec2:AssociateRouteTable",
                ROUTES,
                "ec2/vpc_route_table_association.go: resourceRouteTableAssociationCreate",
                TAGGED_RESOURCE,
            ),
            Call(
                "ec2:AssociateRouteTable",
                SUBNET,
                "ec2/vpc_route_table_association.go: resourceRouteTableAssociationCreate (the subnet)",
                TAGGED_RESOURCE,
            ),
            describe("ec2:DescribeRouteTables", "ec2/vpc_route_table_association.go: waitRouteTableAssociationCreated"),
        ],
        "read": [
            describe("ec2:DescribeRouteTables", "ec2/vpc_route_table_association.go: resourceRouteTableAssociationRead")
        ],
        "delete": [
            Call(
                "ec2:DisassociateRouteTable",
                ROUTES,
                "ec2/vpc_route_table_association.go: resourceRouteTableAssociationDelete",
                TAGGED_RESOURCE,
            ),
        ],
    },
    "aws:ec2/securityGroup:SecurityGroup": {
        "create": [
            Call(
                "ec2:CreateSecurityGroup",
                GROUP,
                "ec2/vpc_security_group.go: resourceSecurityGroupCreate",
                TAGGED_REQUEST,
            ),
            Call(
                "ec2:CreateSecurityGroup",
                VPC,
                "ec2/vpc_security_group.go: resourceSecurityGroupCreate (the VPC)",
                TAGGED_REQUEST,
            ),
            tag_on_create("CreateSecurityGroup", GROUP, "ec2/vpc_security_group.go: resourceSecurityGroupCreate"),
            describe("ec2:DescribeSecurityGroups", "ec2/vpc_security_group.go: resourceSecurityGroupCreate, waiter"),
            Call(
                "ec2:RevokeSecurityGroupEgress",
                GROUP,
                "ec2/vpc_security_group.go: resourceSecurityGroupCreate (the default egress rule)",
                TAGGED_RESOURCE,
            ),
            Call(
                "ec2:AuthorizeSecurityGroupEgress",
                GROUP,
                "ec2/vpc_security_group.go: resourceSecurityGroupCreate, updateSecurityGroupRules",
                TAGGED_RESOURCE,
            ),
        ],
        "read": [describe("ec2:DescribeSecurityGroups", "ec2/vpc_security_group.go: resourceSecurityGroupRead")],
        "delete": [
            describe(
                "ec2:DescribeNetworkInterfaces",
                "ec2/vpc_security_group.go: resourceSecurityGroupDelete, deleteLingeringENIs",
            ),
            Call(
                "ec2:DeleteSecurityGroup",
                GROUP,
                "ec2/vpc_security_group.go: resourceSecurityGroupDelete",
                TAGGED_RESOURCE,
            ),
        ],
    },
    "aws:ecr/repository:Repository": {
        "create": [
            Call("ecr:CreateRepository", REPOSITORY, "ecr/repository.go: resourceRepositoryCreate"),
            Call("ecr:TagResource", REPOSITORY, "ecr/repository.go: resourceRepositoryCreate (tags at create)"),
        ],
        "read": [
            Call("ecr:DescribeRepositories", REPOSITORY, "ecr/repository.go: resourceRepositoryRead"),
            Call("ecr:ListTagsForResource", REPOSITORY, "ecr/repository.go: resourceRepositoryRead (tags)"),
        ],
        "delete": [
            Call("ecr:DeleteRepository", REPOSITORY, "ecr/repository.go: resourceRepositoryDelete (force)"),
            Call("ecr:DescribeRepositories", REPOSITORY, "ecr/repository.go: resourceRepositoryDelete, waiting"),
        ],
    },
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": {
        "create": [
            Call("ecr:PutLifecyclePolicy", REPOSITORY, "ecr/lifecycle_policy.go: resourceLifecyclePolicyCreate"),
        ],
        "read": [Call("ecr:GetLifecyclePolicy", REPOSITORY, "ecr/lifecycle_policy.go: resourceLifecyclePolicyRead")],
        "delete": [
            Call("ecr:DeleteLifecyclePolicy", REPOSITORY, "ecr/lifecycle_policy.go: resourceLifecyclePolicyDelete")
        ],
    },
    "aws:ecs/cluster:Cluster": {
        "create": [
            Call("ecs:CreateCluster", CLUSTER, "ecs/cluster.go: resourceClusterCreate"),
            Call("ecs:TagResource", CLUSTER, "ecs/cluster.go: resourceClusterCreate (tags at create)"),
            Call(
                "iam:CreateServiceLinkedRole",
                "arn:aws:iam::{account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
                "ecs/cluster.go: resourceClusterCreate (a new account: ECS makes its service-linked role)",
                {"iam:AWSServiceName": "ecs.amazonaws.com"},
            ),
            Call("ecs:DescribeClusters", CLUSTER, "ecs/cluster.go: waitClusterAvailable, resourceClusterRead"),
        ],
        "read": [Call("ecs:DescribeClusters", CLUSTER, "ecs/cluster.go: resourceClusterRead (TAGS, SETTINGS)")],
        "delete": [
            Call("ecs:DeleteCluster", CLUSTER, "ecs/cluster.go: resourceClusterDelete"),
            Call("ecs:DescribeClusters", CLUSTER, "ecs/cluster.go: waitClusterDeleted"),
        ],
    },
    "aws:cloudwatch/logGroup:LogGroup": {
        "create": [
            Call("logs:CreateLogGroup", LOGS, "logs/group.go: resourceGroupCreate"),
            Call("logs:TagResource", LOGS, "logs/group.go: resourceGroupCreate (tags at create)"),
            Call("logs:PutRetentionPolicy", LOGS, "logs/group.go: resourceGroupCreate (retention_in_days)"),
        ],
        "read": [
            Call("logs:DescribeLogGroups", "*", "logs/group.go: resourceGroupRead, findLogGroupByName"),
            Call("logs:ListTagsForResource", LOGS, "logs/group.go: resourceGroupRead (tags)"),
        ],
        "delete": [
            Call("logs:DeleteLogGroup", LOGS, "logs/group.go: resourceGroupDelete"),
        ],
    },
    "aws:ssm/parameter:Parameter": {
        "create": [
            Call("ssm:PutParameter", PARAMETER, "ssm/parameter.go: resourceParameterCreate"),
            Call("ssm:AddTagsToResource", PARAMETER, "ssm/parameter.go: resourceParameterCreate (tags at create)"),
        ],
        "read": [
            Call("ssm:GetParameter", PARAMETER, "ssm/parameter.go: resourceParameterRead (WithDecryption)"),
            Call("ssm:DescribeParameters", "*", "ssm/parameter.go: resourceParameterRead (tier, description)"),
            Call("ssm:ListTagsForResource", PARAMETER, "ssm/parameter.go: resourceParameterRead (tags)"),
        ],
        "delete": [Call("ssm:DeleteParameter", PARAMETER, "ssm/parameter.go: resourceParameterDelete")],
    },
    "aws:lambda/function:Function": {
        "create": [
            Call("lambda:CreateFunction", FUNCTION, "lambda/function.go: resourceFunctionCreate"),
            Call(
                "iam:PassRole",
                "arn:aws:iam::{account}:role/{project}-front-door",
                "lambda/function.go: resourceFunctionCreate (Role: the bootstrap's front door role)",
                {"iam:PassedToService": "lambda.amazonaws.com"},
            ),
            Call("lambda:TagResource", FUNCTION, "lambda/function.go: resourceFunctionCreate (tags at create)"),
            Call("lambda:GetFunction", FUNCTION, "lambda/function.go: resourceFunctionCreate, waitFunctionCreated"),
        ],
        "read": [
            Call("lambda:GetFunction", FUNCTION, "lambda/function.go: resourceFunctionRead, findFunction"),
            Call(
                "lambda:ListVersionsByFunction",
                FUNCTION,
                "lambda/function.go: resourceFunctionRead, findLatestFunctionVersionByName",
            ),
            Call("lambda:GetFunctionCodeSigningConfig", FUNCTION, "lambda/function.go: resourceFunctionRead (zip)"),
        ],
        "delete": [Call("lambda:DeleteFunction", FUNCTION, "lambda/function.go: resourceFunctionDelete")],
    },
    "aws:lambda/functionUrl:FunctionUrl": {
        "create": [
            Call("lambda:CreateFunctionUrlConfig", FUNCTION, "lambda/function_url.go: resourceFunctionURLCreate"),
            Call(
                "lambda:AddPermission",
                FUNCTION,
                "lambda/function_url.go: resourceFunctionURLCreate (AuthType NONE: FunctionURLAllowPublicAccess)",
            ),
        ],
        "read": [Call("lambda:GetFunctionUrlConfig", FUNCTION, "lambda/function_url.go: resourceFunctionURLRead")],
        "delete": [
            Call("lambda:DeleteFunctionUrlConfig", FUNCTION, "lambda/function_url.go: resourceFunctionURLDelete")
        ],
    },
    "aws:lambda/permission:Permission": {
        "create": [
            Call("lambda:AddPermission", FUNCTION, "lambda/permission.go: resourcePermissionCreate"),
        ],
        "read": [
            Call("lambda:GetPolicy", FUNCTION, "lambda/permission.go: resourcePermissionRead, findPolicyStatementByID")
        ],
        "delete": [
            Call("lambda:RemovePermission", FUNCTION, "lambda/permission.go: resourcePermissionDelete"),
            Call("lambda:GetPolicy", FUNCTION, "lambda/permission.go: resourcePermissionDelete, waiting until gone"),
        ],
    },
    "aws:sns/topic:Topic": {
        "create": [
            Call("sns:CreateTopic", TOPIC, "sns/topic.go: resourceTopicCreate"),
            Call("sns:TagResource", TOPIC, "sns/topic.go: resourceTopicCreate (tags at create)"),
        ],
        "read": [
            Call("sns:GetTopicAttributes", TOPIC, "sns/topic.go: resourceTopicRead, findTopicAttributesByARN"),
            Call("sns:ListTagsForResource", TOPIC, "sns/topic.go: resourceTopicRead (tags)"),
        ],
        "delete": [
            Call("sns:DeleteTopic", TOPIC, "sns/topic.go: resourceTopicDelete"),
            Call("sns:GetTopicAttributes", TOPIC, "sns/topic.go: resourceTopicDelete, waiting until gone"),
        ],
    },
    "aws:sns/topicPolicy:TopicPolicy": {
        "create": [
            Call("sns:SetTopicAttributes", TOPIC, "sns/topic_policy.go: resourceTopicPolicyUpsert (Policy)"),
        ],
        "read": [Call("sns:GetTopicAttributes", TOPIC, "sns/topic_policy.go: resourceTopicPolicyRead")],
        "delete": [
            Call("sns:GetTopicAttributes", TOPIC, "sns/topic_policy.go: resourceTopicPolicyDelete (the owner)"),
            Call("sns:SetTopicAttributes", TOPIC, "sns/topic_policy.go: resourceTopicPolicyDelete (default policy)"),
        ],
    },
    "aws:sns/topicSubscription:TopicSubscription": {
        "create": [
            Call("sns:Subscribe", TOPIC, "sns/topic_subscription.go: resourceTopicSubscriptionCreate"),
        ],
        "read": [
            Call(
                "sns:GetSubscriptionAttributes",
                "*",
                "sns/topic_subscription.go: resourceTopicSubscriptionRead",
                IN_REGION,
            )
        ],
        "delete": [
            Call("sns:Unsubscribe", "*", "sns/topic_subscription.go: resourceTopicSubscriptionDelete", IN_REGION)
        ],
    },
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        "create": [
            Call("cloudwatch:PutMetricAlarm", ALARM, "cloudwatch/metric_alarm.go: resourceMetricAlarmCreate"),
            Call("cloudwatch:TagResource", ALARM, "cloudwatch/metric_alarm.go: resourceMetricAlarmCreate (tags)"),
        ],
        "read": [
            Call("cloudwatch:DescribeAlarms", ALARM, "cloudwatch/metric_alarm.go: resourceMetricAlarmRead"),
            Call("cloudwatch:ListTagsForResource", ALARM, "cloudwatch/metric_alarm.go: resourceMetricAlarmRead (tags)"),
        ],
        "delete": [
            Call("cloudwatch:DeleteAlarms", ALARM, "cloudwatch/metric_alarm.go: resourceMetricAlarmDelete"),
            Call("cloudwatch:DescribeAlarms", ALARM, "cloudwatch/metric_alarm.go: resourceMetricAlarmDelete, waiting"),
        ],
    },
    # Budgets' API calls authorize as budgets:ModifyBudget (Create, Update, Delete, notifications)
    # and budgets:ViewBudget (Describe*) (Service Authorization Reference, AWS Budget Service).
    "aws:budgets/budget:Budget": {
        "create": [
            Call("budgets:ModifyBudget", BUDGET, "budgets/budget.go: resourceBudgetCreate (CreateBudget)"),
            Call("budgets:TagResource", BUDGET, "budgets/budget.go: resourceBudgetCreate (tags at create)"),
        ],
        "read": [
            Call("budgets:ViewBudget", BUDGET, "budgets/budget.go: resourceBudgetRead (DescribeBudget)"),
            Call(
                "budgets:ViewBudget", BUDGET, "budgets/budget.go: resourceBudgetRead (DescribeNotificationsForBudget)"
            ),
            Call("budgets:ListTagsForResource", BUDGET, "budgets/budget.go: resourceBudgetRead (tags)"),
        ],
        "delete": [Call("budgets:ModifyBudget", BUDGET, "budgets/budget.go: resourceBudgetDelete (DeleteBudget)")],
    },
}


def resource_name(inputs: dict) -> str:
    """What `{name}` is for a recorded resource: its name, else its function's or repository's."""
    for key in ("name", "functionName", "function", "repository", "topic", "arn"):
        value = inputs.get(key)
        if isinstance(value, str):
            return value.rsplit(":", 1)[1] if value.startswith("arn:") else value
    return ""


def calls(resource_type: str, phase: str, region: str, account: str, project: str, name: str = "") -> list[Call]:
    """The calls of one resource in one phase; KeyError names a resource type with no row."""
    if resource_type not in CALLS:
        raise KeyError(f"{resource_type}: add its calls to tests/aws_calls.py from the AWS provider's source")
    names = {"region": region, "account": account, "project": project, "name": name, "id": "0123456789abcdef0"}
    listed = CALLS[resource_type]
    made = listed["create"] + listed["read"] if phase == "create" else listed[phase]
    return [c.filled(**names) for c in made]
