//! A Task state's `Resource`, parsed once into what it names. Every partition is accepted
//! (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, …): handlers match on the parsed form, never on
//! string prefixes, so they agree on what they serve.

use std::fmt;

/// How a service integration is waited on (the suffix of its action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Call and take the response.
    RequestResponse,
    /// `.sync`: run the job to its end.
    Sync,
    /// `.sync:2`: run the job to its end, the output in its JSON form.
    Sync2,
    /// `.waitForTaskToken`: call, then wait for SendTaskSuccess/Failure with the token.
    WaitForTaskToken,
}

impl Pattern {
    fn split(action: &str) -> (&str, Pattern) {
        if let Some(a) = action.strip_suffix(".sync:2") {
            (a, Pattern::Sync2)
        } else if let Some(a) = action.strip_suffix(".sync") {
            (a, Pattern::Sync)
        } else if let Some(a) = action.strip_suffix(".waitForTaskToken") {
            (a, Pattern::WaitForTaskToken)
        } else {
            (action, Pattern::RequestResponse)
        }
    }

    /// The suffix as written in a resource (`""`, `.sync`, `.sync:2`, `.waitForTaskToken`).
    pub fn suffix(self) -> &'static str {
        match self {
            Pattern::RequestResponse => "",
            Pattern::Sync => ".sync",
            Pattern::Sync2 => ".sync:2",
            Pattern::WaitForTaskToken => ".waitForTaskToken",
        }
    }
}

/// What a `Resource` names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An optimized integration, `arn:P:states:::SERVICE:ACTION[PATTERN]`
    /// (`lambda:invoke`, `batch:submitJob.sync`, `s3:getObject`, …).
    Service {
        service: String,
        action: String,
        pattern: Pattern,
    },
    /// An AWS SDK integration, `arn:P:states:::aws-sdk:SERVICE:ACTION[PATTERN]`. A region and
    /// account between `states:` and `aws-sdk` are accepted as AWS accepts them.
    AwsSdk {
        service: String,
        action: String,
        pattern: Pattern,
    },
    /// An activity, `arn:P:states:REGION:ACCOUNT:activity:NAME`.
    Activity { name: String },
    /// A Lambda function by ARN, `arn:P:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
    LambdaFunction { name: String },
    /// Anything else (a handler may still serve it by its text, as mocks do).
    Other,
}

/// A parsed `Resource`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    /// The text as written.
    pub text: String,
    /// The ARN partition, when the text is an ARN.
    pub partition: Option<String>,
    pub target: Target,
}

impl Resource {
    /// Parse a `Resource` string. Never fails: what is not recognised is [`Target::Other`].
    pub fn parse(text: &str) -> Resource {
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), rest) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Resource::other(text, None);
        };
        if partition.is_empty() {
            return Resource::other(text, None);
        }
        let partition = Some(partition.to_string());
        let rest = rest.unwrap_or("");
        let target = match service {
            "states" => {
                if region.is_empty() && account.is_empty() {
                    // `arn:P:states:::` then `SERVICE:ACTION` or `aws-sdk:SERVICE:ACTION`.
                    Self::integration(rest)
                } else if let Some(name) = rest.strip_prefix("activity:") {
                    Some(Target::Activity {
                        name: name.to_string(),
                    })
                } else if rest.starts_with("aws-sdk:") {
                    Self::integration(rest)
                } else {
                    None
                }
            }
            "lambda" => rest.strip_prefix("function:").and_then(|f| {
                let name = f.split(':').next().unwrap_or("");
                (!name.is_empty()).then(|| Target::LambdaFunction {
                    name: name.to_string(),
                })
            }),
            _ => None,
        };
        Resource {
            text: text.to_string(),
            partition,
            target: target.unwrap_or(Target::Other),
        }
    }

    fn other(text: &str, partition: Option<String>) -> Resource {
        Resource {
            text: text.to_string(),
            partition,
            target: Target::Other,
        }
    }

    /// `SERVICE:ACTION[PATTERN]` or `aws-sdk:SERVICE:ACTION[PATTERN]`.
    fn integration(rest: &str) -> Option<Target> {
        if let Some(sdk) = rest.strip_prefix("aws-sdk:") {
            let (service, action) = sdk.split_once(':')?;
            let (action, pattern) = Pattern::split(action);
            return (!service.is_empty() && !action.is_empty()).then(|| Target::AwsSdk {
                service: service.to_string(),
                action: action.to_string(),
                pattern,
            });
        }
        let (service, action) = rest.split_once(':')?;
        let (action, pattern) = Pattern::split(action);
        (!service.is_empty() && !action.is_empty()).then(|| Target::Service {
            service: service.to_string(),
            action: action.to_string(),
            pattern,
        })
    }

    /// The optimized integration `service:action` (any pattern), if that is what this names.
    pub fn service_action(&self) -> Option<(&str, &str, Pattern)> {
        match &self.target {
            Target::Service {
                service,
                action,
                pattern,
            } => Some((service, action, *pattern)),
            _ => None,
        }
    }

    /// The activity's name, if this is an activity.
    pub fn activity_name(&self) -> Option<&str> {
        match &self.target {
            Target::Activity { name } => Some(name),
            _ => None,
        }
    }

    /// The integration pattern (request-response for activities, functions and the rest).
    pub fn pattern(&self) -> Pattern {
        match &self.target {
            Target::Service { pattern, .. } | Target::AwsSdk { pattern, .. } => *pattern,
            _ => Pattern::RequestResponse,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(s: &str, a: &str, p: Pattern) -> Target {
        Target::Service {
            service: s.into(),
            action: a.into(),
            pattern: p,
        }
    }

    #[test]
    fn integrations_in_every_partition() {
        for partition in ["aws", "aws-cn", "aws-us-gov", "aws-iso-b"] {
            let r = Resource::parse(&format!("arn:{partition}:states:::lambda:invoke"));
            assert_eq!(r.partition.as_deref(), Some(partition));
            assert_eq!(
                r.target,
                service("lambda", "invoke", Pattern::RequestResponse)
            );
        }
        assert_eq!(
            Resource::parse("arn:aws:states:::batch:submitJob.sync").target,
            service("batch", "submitJob", Pattern::Sync)
        );
        assert_eq!(
            Resource::parse("arn:aws:states:::states:startExecution.sync:2").target,
            service("states", "startExecution", Pattern::Sync2)
        );
        assert_eq!(
            Resource::parse("arn:aws:states:::lambda:invoke.waitForTaskToken").pattern(),
            Pattern::WaitForTaskToken
        );
    }

    #[test]
    fn sdk_integrations_with_and_without_region() {
        let expected = Target::AwsSdk {
            service: "s3".into(),
            action: "getObject".into(),
            pattern: Pattern::RequestResponse,
        };
        assert_eq!(
            Resource::parse("arn:aws:states:::aws-sdk:s3:getObject").target,
            expected
        );
        assert_eq!(
            Resource::parse("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject").target,
            expected
        );
    }

    #[test]
    fn activities_and_functions() {
        assert_eq!(
            Resource::parse("arn:aws-cn:states:cn-north-1:123456789012:activity:sluice-sql")
                .activity_name(),
            Some("sluice-sql")
        );
        for f in [
            "arn:aws:lambda:us-east-1:123456789012:function:score",
            "arn:aws:lambda:us-east-1:123456789012:function:score:$LATEST",
        ] {
            assert_eq!(
                Resource::parse(f).target,
                Target::LambdaFunction {
                    name: "score".into()
                }
            );
        }
    }

    #[test]
    fn anything_else_is_other() {
        for text in [
            "",
            "arn",
            "arn::states:::lambda:invoke",
            "arn:aws:states:::lambda",
            "arn:aws:states:::",
            "arn:aws:lambda:us-east-1:123456789012:layer:x",
            "arn:aws:states:us-east-1:123456789012:stateMachine:x",
            "not an arn",
        ] {
            assert_eq!(Resource::parse(text).target, Target::Other, "{text}");
        }
    }
}
