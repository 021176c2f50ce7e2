//! Task, ItemReader and ResultWriter `Resource` ARNs and the recognised service integrations.

/// Optimised service integrations (`arn:aws:states:::<service>:<action>`) AWS documents
/// (source: the Step Functions developer guide, "Integrating optimized services", as of 2025).
///
/// AWS rejects a pair it does not serve at creation time ("The resource provided ... is not
/// recognized"; recorded for `dynamodb:query` in the conformance corpus), so an unlisted
/// action of a service listed here is reported. But AWS adds integrations with new services
/// every few months and this list lags, so a well-formed pair naming a service not listed at
/// all is accepted ([`well_formed_integration`]). SDK integrations (`aws-sdk:<service>:<action>`) are open-ended and accepted
/// as long as they are well formed.
const INTEGRATIONS: &[&str] = &[
    "lambda:invoke",
    "sns:publish",
    "sqs:sendMessage",
    "dynamodb:getItem",
    "dynamodb:putItem",
    "dynamodb:updateItem",
    "dynamodb:deleteItem",
    "batch:submitJob",
    "ecs:runTask",
    "glue:startJobRun",
    "databrew:startJobRun",
    "states:startExecution",
    "events:putEvents",
    "apigateway:invoke",
    "http:invoke",
    "s3:getObject",
    "s3:putObject",
    "s3:listObjectsV2",
    "athena:startQueryExecution",
    "athena:stopQueryExecution",
    "athena:getQueryExecution",
    "athena:getQueryResults",
    "bedrock:invokeModel",
    "bedrock:createModelCustomizationJob",
    "codebuild:startBuild",
    "codebuild:stopBuild",
    "codebuild:batchDeleteBuilds",
    "codebuild:batchGetReports",
    "codebuild:startBuildBatch",
    "codebuild:stopBuildBatch",
    "codebuild:retryBuild",
    "codebuild:retryBuildBatch",
    "codebuild:deleteBuildBatch",
    "eks:createCluster",
    "eks:deleteCluster",
    "eks:createFargateProfile",
    "eks:deleteFargateProfile",
    "eks:createNodegroup",
    "eks:deleteNodegroup",
    "eks:runJob",
    "eks:call",
    "elasticmapreduce:createCluster",
    "elasticmapreduce:terminateCluster",
    "elasticmapreduce:addStep",
    "elasticmapreduce:cancelStep",
    "elasticmapreduce:setClusterTerminationProtection",
    "elasticmapreduce:modifyInstanceFleetByName",
    "elasticmapreduce:modifyInstanceGroupByName",
    "emr-containers:startJobRun",
    "emr-containers:createVirtualCluster",
    "emr-containers:deleteVirtualCluster",
    "emr-serverless:createApplication",
    "emr-serverless:startApplication",
    "emr-serverless:stopApplication",
    "emr-serverless:deleteApplication",
    "emr-serverless:startJobRun",
    "emr-serverless:cancelJobRun",
    "sagemaker:createEndpoint",
    "sagemaker:createEndpointConfig",
    "sagemaker:createHyperParameterTuningJob",
    "sagemaker:createLabelingJob",
    "sagemaker:createModel",
    "sagemaker:createProcessingJob",
    "sagemaker:createTrainingJob",
    "sagemaker:createTransformJob",
    "sagemaker:updateEndpoint",
    "mediaconvert:createJob",
];

/// Whether every `${` in `r` opens a placeholder with a name and a closing `}`.
fn substitutions_closed(r: &str) -> bool {
    r.split("${").skip(1).all(|after| {
        after
            .find('}')
            .is_some_and(|end| end > 0 && !after[..end].contains('{'))
    })
}

/// Checks a Task (or ItemReader/ResultWriter) Resource ARN the way AWS does at creation time.
pub(super) fn resource_arn(r: &str) -> Result<(), String> {
    // Infrastructure templates (CloudFormation DefinitionSubstitutions, SAM, Terraform) fill
    // these in before AWS sees the definition, so they cannot be judged here.
    if r.contains("${") {
        // Only whole `${Name}` placeholders are filled in; an unclosed one reaches AWS as is.
        return if substitutions_closed(r) {
            Ok(())
        } else {
            Err(format!(
                "Resource \"{r}\" has a ${{...}} substitution that is not closed (a template fills in only whole ${{Name}} placeholders), and it is not an ARN"
            ))
        };
    }
    let parts: Vec<&str> = r.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[1].is_empty() || parts[2].is_empty() {
        return Err(format!(
            "Resource \"{r}\" is not an ARN (expected arn:<partition>:<service>:<region>:<account>:<resource>)"
        ));
    }
    let (service, region, account, resource) = (parts[2], parts[3], parts[4], parts[5]);
    match service {
        "states" if region.is_empty() && account.is_empty() => integration(r, resource),
        "states" => {
            if resource.starts_with("activity:") && resource.len() > "activity:".len() {
                Ok(())
            } else if resource.starts_with("aws-sdk:") {
                // AWS accepts an SDK integration ARN that names a region and account, as
                // deployed definitions show (`arn:aws:states:us-east-1:123456789012:aws-sdk:…`).
                integration(r, resource)
            } else {
                Err(format!(
                    "The resource provided {r} is not recognized: a regional states ARN must name an activity (arn:aws:states:<region>:<account>:activity:<name>)"
                ))
            }
        }
        "lambda" => lambda_function(r, resource),
        _ if resource.is_empty() => Err(format!("Resource \"{r}\" has an empty resource part")),
        _ => Ok(()),
    }
}

fn integration(r: &str, resource: &str) -> Result<(), String> {
    let base = [".sync:2", ".sync", ".waitForTaskToken"]
        .iter()
        .find_map(|suffix| resource.strip_suffix(suffix))
        .unwrap_or(resource);
    if let Some(sdk) = base.strip_prefix("aws-sdk:") {
        let mut it = sdk.splitn(2, ':');
        let svc = it.next().unwrap_or("");
        let action = it.next().unwrap_or("");
        let well_formed = !svc.is_empty()
            && !action.is_empty()
            && action.chars().all(|c| c.is_ascii_alphanumeric())
            && svc
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        return if well_formed {
            Ok(())
        } else {
            Err(format!(
                "The resource provided {r} is not recognized: SDK integrations look like arn:aws:states:::aws-sdk:<service>:<apiAction>"
            ))
        };
    }
    if INTEGRATIONS.contains(&base) || (well_formed_integration(base) && !known_service(base)) {
        Ok(())
    } else {
        Err(format!(
            "The resource provided {r} is not recognized. The value is not a valid resource ARN; for an AWS SDK call use arn:aws:states:::aws-sdk:<service>:<apiAction>"
        ))
    }
}

/// Whether the table lists some integration of `base`'s service (then it lists all of them).
fn known_service(base: &str) -> bool {
    let service = base.split(':').next().unwrap_or(base);
    INTEGRATIONS
        .iter()
        .any(|known| known.split(':').next() == Some(service))
}

/// `<service>:<action>` shaped like AWS's optimized integrations: a lower-case service id
/// (letters, digits, hyphens) and a lowerCamelCase action. AWS adds integrations every few
/// months (`bedrockagentcore:…` came after the table above was written), so a well-formed
/// pair of a service the table does not know is accepted rather than blocking a definition
/// AWS runs; if sluice has no handler for it, the Task fails at run time with
/// `Sluice.NoTaskHandler` naming the resource.
fn well_formed_integration(base: &str) -> bool {
    let Some((service, action)) = base.split_once(':') else {
        return false;
    };
    let service_ok = service.len() >= 2
        && service.starts_with(|c: char| c.is_ascii_lowercase())
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let action_ok = action.starts_with(|c: char| c.is_ascii_lowercase())
        && action.chars().all(|c| c.is_ascii_alphanumeric());
    service_ok && action_ok
}

fn lambda_function(r: &str, resource: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "Resource \"{r}\" is not a valid Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<alias or version>])"
        ))
    };
    let Some(rest) = resource.strip_prefix("function:") else {
        return bad();
    };
    let mut it = rest.split(':');
    let name = it.next().unwrap_or("");
    let qualifier = it.next();
    if it.next().is_some() {
        return bad();
    }
    let name_ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let qualifier_ok = match qualifier {
        None => true,
        Some("$LATEST") => true,
        Some(q) => {
            (1..=128).contains(&q.len())
                && q.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
    };
    if name_ok && qualifier_ok {
        Ok(())
    } else {
        bad()
    }
}
