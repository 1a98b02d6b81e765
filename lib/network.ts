import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PipelinePropsError } from './errors';

/** Where the pipeline's functions run when they are placed in a VPC. */
export interface PipelineNetworkOptions {
  /**
   * The VPC. Interface endpoints resolve through private DNS, so it needs DNS support and DNS hostnames on.
   * @default - a new VPC of two Availability Zones with isolated subnets only (no NAT gateway) and a flow log of
   * rejected traffic
   */
  readonly vpc?: ec2.IVpc;
  /**
   * The subnets the functions run in (and the interface endpoints are placed in). Public subnets are refused: a
   * function there has no public address and reaches nothing.
   * @default - the VPC's private subnets with egress if it has any, otherwise its isolated subnets
   */
  readonly subnets?: ec2.SubnetSelection;
  /**
   * Whether to create the endpoints the functions need: gateway endpoints for S3 and DynamoDB, interface
   * endpoints for SQS and (when a function calls Kinesis) Kinesis Data Streams. Turn it off with isolated
   * subnets only when the VPC already has these endpoints.
   * @default - true when the selected subnets are isolated (no route to the internet), false otherwise
   */
  readonly createEndpoints?: boolean;
}

/** What a function needs to be placed in the pipeline's VPC. */
export interface FunctionPlacement {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

/** The selected subnets of `vpc`, or a PipelinePropsError naming the prop. */
function selectSubnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | undefined, owner: string): { subnets: ec2.SelectedSubnets; isolated: boolean } {
  const type =
    selection === undefined
      ? vpc.privateSubnets.length > 0
        ? ec2.SubnetType.PRIVATE_WITH_EGRESS
        : vpc.isolatedSubnets.length > 0
          ? ec2.SubnetType.PRIVATE_ISOLATED
          : undefined
      : selection.subnetType;
  if (type === undefined && selection === undefined) {
    throw new PipelinePropsError(`${owner}: network.vpc has no private or isolated subnets; the functions cannot run in public subnets (give network.subnets or another VPC)`);
  }
  if (type === ec2.SubnetType.PUBLIC) {
    throw new PipelinePropsError(`${owner}: network.subnets must not select PUBLIC subnets: a function there gets no public address and reaches nothing`);
  }
  const chosen = selection ?? { subnetType: type };
  let subnets: ec2.SelectedSubnets;
  try {
    subnets = vpc.selectSubnets(chosen);
  } catch (e) {
    throw new PipelinePropsError(`${owner}: network.subnets selects no subnet of network.vpc (${e instanceof Error ? e.message : String(e)})`);
  }
  if (subnets.subnets.length === 0) throw new PipelinePropsError(`${owner}: network.subnets selects no subnet of network.vpc`);
  const publicIds = new Set(vpc.publicSubnets.map((s) => s.subnetId));
  if (subnets.subnets.some((s) => publicIds.has(s.subnetId))) {
    throw new PipelinePropsError(`${owner}: network.subnets must not select PUBLIC subnets: a function there gets no public address and reaches nothing`);
  }
  const isolatedIds = new Set(vpc.isolatedSubnets.map((s) => s.subnetId));
  return { subnets, isolated: subnets.subnets.every((s) => isolatedIds.has(s.subnetId)) };
}

/** Refuses a VPC without usable subnets, public subnets, and a subnet selection without a VPC to select in. */
export function validateNetworkOptions(o: PipelineNetworkOptions, owner = 'PipelineNetwork'): void {
  if (o.vpc === undefined) {
    if (o.subnets !== undefined) throw new PipelinePropsError(`${owner}: network.subnets needs network.vpc: the VPC created by default has isolated subnets only`);
    return;
  }
  selectSubnets(o.vpc, o.subnets, owner);
}

export interface PipelineNetworkProps extends PipelineNetworkOptions {
  /** Whether any function calls Kinesis Data Streams itself (the mapping's polling does not count). */
  readonly kinesisEndpoint: boolean;
  /** Removal policy of the created VPC's flow log group. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The VPC placement of the pipeline's functions: the VPC (given or a new one), one security group for every
 * function (HTTPS out only, nothing in), and the endpoints they need without a route to the internet. The
 * functions' metrics go through their logs, which Lambda delivers outside the VPC, and the services call KMS
 * themselves, so no CloudWatch, Logs, KMS or STS endpoint is needed.
 */
export class PipelineNetwork extends Construct {
  public readonly vpc: ec2.IVpc;
  public readonly subnets: ec2.SubnetSelection;
  public readonly securityGroup: ec2.SecurityGroup;
  /** Whether the endpoints were created. */
  public readonly endpoints: boolean;

  public constructor(scope: Construct, id: string, props: PipelineNetworkProps) {
    super(scope, id);
    validateNetworkOptions(props);
    this.vpc = props.vpc ?? this.newVpc(props.removalPolicy ?? RemovalPolicy.RETAIN);
    const { subnets, isolated } = selectSubnets(this.vpc, props.subnets, 'PipelineNetwork');
    this.subnets = { subnets: subnets.subnets };

    this.securityGroup = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', {
      vpc: this.vpc,
      description: 'Feature pipeline functions: HTTPS to AWS service endpoints only, no inbound traffic',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS service endpoints');

    this.endpoints = props.createEndpoints ?? isolated;
    if (!this.endpoints) return;
    for (const [name, service] of [
      ['S3', ec2.GatewayVpcEndpointAwsService.S3],
      ['DynamoDb', ec2.GatewayVpcEndpointAwsService.DYNAMODB],
    ] as const) {
      new ec2.GatewayVpcEndpoint(this, `${name}Endpoint`, { vpc: this.vpc, service, subnets: [this.subnets] });
    }
    const endpointGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Feature pipeline interface endpoints: HTTPS from the pipeline functions only',
      allowAllOutbound: false,
    });
    endpointGroup.addIngressRule(this.securityGroup, ec2.Port.tcp(443), 'HTTPS from the pipeline functions');
    const interfaces: Array<[string, ec2.InterfaceVpcEndpointAwsService]> = [['Sqs', ec2.InterfaceVpcEndpointAwsService.SQS]];
    if (props.kinesisEndpoint) interfaces.push(['Kinesis', ec2.InterfaceVpcEndpointAwsService.KINESIS_STREAMS]);
    for (const [name, service] of interfaces) {
      new ec2.InterfaceVpcEndpoint(this, `${name}Endpoint`, {
        vpc: this.vpc,
        service,
        subnets: this.subnets,
        securityGroups: [endpointGroup],
        privateDnsEnabled: true,
        open: false,
      });
    }
  }

  /** Placement of a function in the VPC with the functions' security group. */
  public get placement(): FunctionPlacement {
    return { vpc: this.vpc, vpcSubnets: this.subnets, securityGroups: [this.securityGroup] };
  }

  private newVpc(removalPolicy: RemovalPolicy): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Functions', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      // Nothing uses the default security group; leaving it as it is needs no custom resource.
      restrictDefaultSecurityGroup: false,
    });
    const logGroup = new logs.LogGroup(this, 'FlowLogGroup', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy });
    vpc.addFlowLog('RejectedTraffic', { destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup), trafficType: ec2.FlowLogTrafficType.REJECT });
    return vpc;
  }
}

/**
 * Lets Lambda manage the network interfaces of a function in a VPC with the function's own role: the actions of
 * the AWS managed policy AWSLambdaVPCAccessExecutionRole, inline (the roles carry no managed policy).
 */
export function grantNetworkInterfaces(role: iam.Role): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'VpcNetworkInterfaces',
      actions: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
    }),
  );
  Validations.of(role.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Lambda creates, describes and deletes the function\'s network interfaces with its role; their ids exist only once created and the Describe actions support no resource-level permission.',
  });
}

/** The props placing a function in the VPC, and the role's network-interface grant; nothing without a network. */
export function placeFunction(role: iam.Role, placement: FunctionPlacement | undefined): Pick<lambda.FunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> {
  if (placement === undefined) return {};
  grantNetworkInterfaces(role);
  return { vpc: placement.vpc, vpcSubnets: placement.vpcSubnets, securityGroups: placement.securityGroups };
}
