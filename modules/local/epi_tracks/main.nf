// Genome-browser files of a links table (epi-report tracks): BEDPE, UCSC interact, element
// bigWigs, tracks.txt and an IGV session, scored and coloured by meta.score_column.
process EPI_TRACKS {
    tag "${meta.id}:${meta.score_column}"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(links), path(genome), path(genome_index)

    output:
    tuple val(meta), path("${prefix}")                 , emit: dir
    tuple val(meta), path("${prefix}/links.bedpe")     , emit: bedpe
    tuple val(meta), path("${prefix}/links.interact")  , emit: interact
    tuple val(meta), path("${prefix}/tracks.txt")      , emit: hub
    path "versions.yml"                                , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_tracks"
    """
    epi-report tracks \\
        --links ${links} \\
        --score-column ${meta.score_column} \\
        --chrom-sizes ${genome} \\
        --name ${meta.id} \\
        --out ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_tracks"
    """
    mkdir -p ${prefix}
    touch ${prefix}/links.bedpe ${prefix}/links.interact ${prefix}/tracks.txt ${prefix}/igv_session.xml

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
