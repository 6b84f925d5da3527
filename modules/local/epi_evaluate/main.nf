// meta.score_column (optional) names the score column of the predictions, e.g. attention_abc of
// EPI_PRIORITIZE_GENES' scores.tsv; meta.predictor (optional) goes into the output name.
process EPI_EVALUATE {
    tag "${meta.id}"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(predictions), path(benchmark)

    output:
    tuple val(meta), path("${prefix}")                   , emit: dir
    tuple val(meta), path("${prefix}/evaluation.tsv")    , emit: evaluation
    path "versions.yml"                                  , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def cell_type_arg = meta.cell_type ? "--cell-type ${meta.cell_type}" : ''
    def score_arg = meta.score_column ? "--score-column ${meta.score_column}" : ''
    prefix = task.ext.prefix ?: (meta.predictor ? "${meta.id}_${meta.predictor}_crispr" : "${meta.id}_crispr")
    """
    epi-prioritize evaluate \\
        --benchmark ${benchmark} \\
        --predictions ${predictions} \\
        ${score_arg} \\
        ${cell_type_arg} \\
        --out ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: (meta.predictor ? "${meta.id}_${meta.predictor}_crispr" : "${meta.id}_crispr")
    """
    mkdir -p ${prefix}
    touch ${prefix}/evaluation.tsv ${prefix}/matched.tsv ${prefix}/pr_curves.png

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
